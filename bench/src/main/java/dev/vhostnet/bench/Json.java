package dev.vhostnet.bench;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectWriter;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.ser.std.StdSerializer;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The project's one JSON writer (Jackson), for {@code bench.json} and every {@code --json} of the
 * CLI, and its reader of what a daemon answers ({@link #parse}). Values are maps built with
 * {@link #object}, lists, strings, numbers, booleans and {@code null}. A NaN or infinite number (a latency with no sample) is written {@code null}: JSON
 * has none (RFC 8259, section 6). Feature masks go out as {@link #hex} strings.
 */
public final class Json {
    private static final ObjectMapper MAPPER = new ObjectMapper()
            .registerModule(new SimpleModule("finite-numbers")
                    .addSerializer(Double.class, new FiniteSerializer<>(Double.class))
                    .addSerializer(Double.TYPE, new FiniteSerializer<>(Double.TYPE))
                    .addSerializer(Float.class, new FiniteSerializer<>(Float.class))
                    .addSerializer(Float.TYPE, new FiniteSerializer<>(Float.TYPE)));

    private Json() {}

    /** An object of {@code key, value, key, value…}, keys in that order. */
    public static Map<String, Object> object(Object... keysAndValues) {
        if (keysAndValues.length % 2 != 0) {
            throw new IllegalArgumentException("keys and values come in pairs, not " + keysAndValues.length + " items");
        }
        Map<String, Object> map = new LinkedHashMap<>();
        for (int i = 0; i < keysAndValues.length; i += 2) {
            map.put((String) keysAndValues[i], keysAndValues[i + 1]);
        }
        return map;
    }

    /** A bit mask as JSON carries it safely (a 64-bit number is not exact in every parser): {@code "0x33d008000"}. */
    public static String hex(long mask) {
        return "0x" + Long.toHexString(mask);
    }

    /** One line of JSON. */
    public static String write(Object value) {
        return write(MAPPER.writer(), value);
    }

    /** {@code text} parsed: one JSON value, nothing after it; a {@link JsonProcessingException} (an IOException) if it is not. */
    public static JsonNode parse(String text) throws JsonProcessingException {
        return MAPPER.reader()
                .with(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
                .readTree(text);
    }

    /** Indented JSON ending in a newline, for files people read too. */
    public static String writePretty(Object value) {
        return write(MAPPER.writer(SerializationFeature.INDENT_OUTPUT), value) + "\n";
    }

    private static String write(ObjectWriter writer, Object value) {
        try {
            return writer.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(
                    "no JSON form for " + value.getClass().getName() + ": " + e.getOriginalMessage(), e);
        }
    }

    /** Writes a finite number as it is, NaN and the infinities as {@code null}. */
    private static final class FiniteSerializer<T extends Number> extends StdSerializer<T> {
        private static final long serialVersionUID = 1L;

        FiniteSerializer(Class<T> type) {
            super(type);
        }

        @Override
        public void serialize(T value, JsonGenerator gen, SerializerProvider provider) throws IOException {
            double d = value.doubleValue();
            if (!Double.isFinite(d)) {
                gen.writeNull();
            } else if (value instanceof Float f) {
                gen.writeNumber(f);
            } else {
                gen.writeNumber(d);
            }
        }
    }
}
