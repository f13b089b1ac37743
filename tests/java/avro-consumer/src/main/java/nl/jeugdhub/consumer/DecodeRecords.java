package nl.jeugdhub.consumer;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.apache.avro.Schema;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.SchemaParser;
import org.apache.avro.data.TimeConversions;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageDecoder;

/**
 * Decodes Jeugdhub records with nothing but the contract's .avsc files and Apache Avro's own
 * single-object decoder: a second Avro implementation checking that another party can read our
 * topics (docs/consumers.md).
 *
 * <p>Usage: {@code DecodeRecords SCHEMA_DIR RECORD FILE...}, RECORD a full name such as
 * {@code nl.jeugdhub.v1.RegionSnapshot}; each FILE holds one Kafka record value (C3 01, the
 * 8-byte CRC-64-AVRO fingerprint, the Avro binary body). Prints one JSON object per file, with
 * dates as YYYY-MM-DD and timestamps as ISO-8601 instants. Exit 1 on a value it cannot decode
 * (wrong marker, unknown fingerprint, truncated).
 */
public final class DecodeRecords {
  private DecodeRecords() {}

  /**
   * Every named type of the directory, references between files resolved: Avro 1.12's SchemaParser
   * accepts a reference to a type defined in a file it parses later, so the order does not matter
   * (sorted here, which puts such a reference first: the check that it works).
   */
  static Map<String, Schema> loadSchemas(Path directory) throws IOException {
    List<Path> files;
    try (Stream<Path> listing = Files.list(directory)) {
      files = listing.filter(path -> path.toString().endsWith(".avsc")).sorted().toList();
    }
    SchemaParser parser = new SchemaParser();
    for (Path file : files) {
      parser.parse(file); // RegionSnapshot comes before the RestrictiveMeasureCounts it refers to
    }
    Map<String, Schema> named = new TreeMap<>();
    for (Schema schema : parser.getParsedNamedSchemas()) {
      named.put(schema.getFullName(), schema);
    }
    return named;
  }

  public static void main(String[] args) throws IOException {
    if (args.length < 2) {
      System.err.println("usage: DecodeRecords SCHEMA_DIR RECORD FILE...");
      System.exit(2);
    }
    Map<String, Schema> named = loadSchemas(Path.of(args[0]));
    Schema schema = named.get(args[1]);
    if (schema == null) {
      System.err.println("no record " + args[1] + " among " + named.keySet());
      System.exit(2);
    }

    // Logical types as Java types: date -> LocalDate, timestamp-millis -> Instant.
    GenericData model = new GenericData();
    model.addLogicalTypeConversion(new TimeConversions.DateConversion());
    model.addLogicalTypeConversion(new TimeConversions.TimestampMillisConversion());

    // The decoder knows one writer schema, `schema`, by its fingerprint, and refuses any other
    // (MissingSchemaException). Only ever add versions of this same record (decoder.addSchema, or
    // a SchemaStore): Avro's schema resolution does not compare top-level record names, so with
    // DailyRegionFigures known too, a daily record would be read as a RegionSnapshot, no error.
    BinaryMessageDecoder<GenericRecord> decoder = new BinaryMessageDecoder<>(model, schema);

    // The CRC-64-AVRO of the Parsing Canonical Form; the header holds it little-endian.
    long fingerprint = SchemaNormalization.parsingFingerprint64(schema);
    System.err.printf(
        "%s: fingerprint %016x, header bytes %016x%n",
        schema.getFullName(), fingerprint, Long.reverseBytes(fingerprint));

    PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    for (int i = 2; i < args.length; i++) {
      byte[] value = Files.readAllBytes(Path.of(args[i]));
      try {
        out.println(Json.of(decoder.decode(value)));
      } catch (IOException | RuntimeException e) {
        System.err.println(args[i] + ": " + e);
        System.exit(1);
      }
    }
  }

  /** A small JSON writer for decoded generic data (the JDK has none, and it keeps this self-contained). */
  static final class Json {
    private Json() {}

    static String of(Object value) {
      StringBuilder out = new StringBuilder();
      write(out, value);
      return out.toString();
    }

    private static void write(StringBuilder out, Object value) {
      if (value == null) {
        out.append("null");
      } else if (value instanceof GenericRecord record) {
        out.append('{');
        boolean first = true;
        for (Schema.Field field : record.getSchema().getFields()) {
          if (!first) {
            out.append(',');
          }
          first = false;
          string(out, field.name());
          out.append(':');
          write(out, record.get(field.pos()));
        }
        out.append('}');
      } else if (value instanceof Map<?, ?> map) {
        out.append('{');
        boolean first = true;
        for (Map.Entry<?, ?> entry : map.entrySet()) {
          if (!first) {
            out.append(',');
          }
          first = false;
          string(out, entry.getKey().toString());
          out.append(':');
          write(out, entry.getValue());
        }
        out.append('}');
      } else if (value instanceof Collection<?> items) {
        out.append('[');
        boolean first = true;
        for (Object item : items) {
          if (!first) {
            out.append(',');
          }
          first = false;
          write(out, item);
        }
        out.append(']');
      } else if (value instanceof Boolean || value instanceof Integer || value instanceof Long) {
        out.append(value);
      } else if (value instanceof Double || value instanceof Float) {
        double number = ((Number) value).doubleValue();
        out.append(Double.isFinite(number) ? Double.toString(number) : "null");
      } else {
        // Strings (Utf8), enum symbols, LocalDate (2026-06-30) and Instant (2026-06-30T21:59:58Z).
        string(out, value.toString());
      }
    }

    private static void string(StringBuilder out, String text) {
      out.append('"');
      for (int i = 0; i < text.length(); i++) {
        char c = text.charAt(i);
        switch (c) {
          case '"' -> out.append("\\\"");
          case '\\' -> out.append("\\\\");
          case '\n' -> out.append("\\n");
          case '\r' -> out.append("\\r");
          case '\t' -> out.append("\\t");
          default -> {
            if (c < 0x20) {
              out.append(String.format("\\u%04x", (int) c));
            } else {
              out.append(c);
            }
          }
        }
      }
      out.append('"');
    }
  }
}
