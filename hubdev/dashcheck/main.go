// Command dashcheck decodes Grafana dashboard JSON files strictly against the Grafana Foundation
// SDK's types: an unknown field anywhere (dashboard, panel, panel options, field config, Prometheus
// query) or a value of the wrong type is an error. Used by tests/unit/deploy/test_dashboards.py;
// hubdev/dashboards.py builds it into deploy/local/cache/.
//
// Usage: dashcheck FILE...   (exit 0: every file decodes; 1: at least one does not; 2: usage)
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// problems turns the SDK's answer into a list. UnmarshalJSONStrict returns its error list typed as
// error even when the list is empty, so a valid dashboard yields a non-nil error with no entries.
func problems(err error) []string {
	if err == nil {
		return nil
	}
	var build cog.BuildErrors
	if errors.As(err, &build) {
		out := make([]string, 0, len(build))
		for _, one := range build {
			out = append(out, one.Error())
		}
		return out
	}
	return []string{err.Error()}
}

func check(path string) []string {
	raw, err := os.ReadFile(path)
	if err != nil {
		return []string{err.Error()}
	}
	var board dashboard.Dashboard
	found := problems(board.UnmarshalJSONStrict(raw))
	if len(found) == 0 {
		found = problems(board.Validate())
	}
	return found
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: dashcheck FILE...")
		os.Exit(2)
	}
	// Panel options, field config and queries decode through the plugin registry: without it they
	// would land in untyped maps and unknown fields there would pass.
	plugins.RegisterDefaultPlugins()
	failed := false
	for _, path := range os.Args[1:] {
		found := check(path)
		if len(found) == 0 {
			fmt.Printf("%s: ok\n", path)
			continue
		}
		failed = true
		for _, problem := range found {
			fmt.Printf("%s: %s\n", path, problem)
		}
	}
	if failed {
		os.Exit(1)
	}
}
