package dev.vhostnet.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class JsonTest {
    @Test
    void writesObjectsInKeyOrderWithEscapedStringsNumbersAndNull() {
        assertEquals(
                "{\"a\":1,\"b\":[\"x\\\"y\\n\",true,null],\"c\":\"\\u0001\"}",
                Json.write(Json.object("a", 1, "b", Arrays.asList("x\"y\n", true, null), "c", "\u0001")));
        assertEquals("[]", Json.write(List.of()));
        assertThrows(IllegalArgumentException.class, () -> Json.object("a"));
    }

    @Test
    void writesANumberJsonCannotHoldAsNull() throws Exception {
        // demo --json with every ping lost: the latency percentiles are NaN, a bare NaN is no JSON.
        String json = Json.write(Json.object(
                "p50Micros",
                Double.NaN,
                "rate",
                Double.POSITIVE_INFINITY,
                "slow",
                Float.NEGATIVE_INFINITY,
                "p99Micros",
                1.5,
                "f",
                0.25f,
                "all",
                List.of(Double.NaN, 2.0)));
        assertEquals(
                "{\"p50Micros\":null,\"rate\":null,\"slow\":null,\"p99Micros\":1.5,\"f\":0.25,\"all\":[null,2.0]}",
                json);
        JsonNode parsed = new ObjectMapper().readTree(json);
        assertTrue(parsed.get("p50Micros").isNull());
        assertTrue(parsed.get("all").get(0).isNull());
    }

    @Test
    void writesAMaskAsAHexString() {
        assertEquals("0x33d008000", Json.hex(0x33d008000L));
        assertEquals("0xffffffffffffffff", Json.hex(-1));
        assertEquals("0x0", Json.hex(0));
    }
}
