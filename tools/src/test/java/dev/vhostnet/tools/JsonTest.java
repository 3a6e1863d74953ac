package dev.vhostnet.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;

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
    }

    @Test
    void writesANumberJsonCannotHoldAsNull() {
        // demo --json with every ping lost: the latency percentiles are NaN, a bare NaN is no JSON.
        assertEquals(
                "{\"p50Micros\":null,\"rate\":null,\"slow\":null,\"p99Micros\":1.5}",
                Json.write(Json.object(
                        "p50Micros",
                        Double.NaN,
                        "rate",
                        Double.POSITIVE_INFINITY,
                        "slow",
                        Float.NEGATIVE_INFINITY,
                        "p99Micros",
                        1.5)));
    }
}
