package dev.vhostnet.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.vhostnet.bench.Json;
import dev.vhostnet.ctl.BackendChoice;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The {@code --json} forms, built in this process and read back with a JSON parser. */
class JsonOutputTest {
    static JsonNode parse(String json) throws Exception {
        return new ObjectMapper().readTree(json);
    }

    @Test
    void aDemoWhoseEveryPingWasLostIsStillJson() throws Exception {
        Loopback.Flow none = new Loopback.Flow(10, 0, 0, 0); // no time measured: the rates are NaN
        Loopback.Report report = new Loopback.Report(
                new BackendChoice(BackendChoice.Kind.EMULATED, "asked for"),
                List.of("VERSION_1"),
                "vhd0",
                "vhd-0",
                none,
                none,
                new Loopback.Latency(0, 5, Double.NaN, Double.NaN));
        JsonNode json = parse(Json.write(DemoCommand.json(report)));
        assertTrue(json.get("latency").get("p50Micros").isNull(), json.toString());
        assertTrue(json.get("latency").get("p99Micros").isNull(), json.toString());
        assertEquals(5, json.get("latency").get("lost").asInt());
        assertTrue(json.get("toNamespace").get("packetsPerSecond").isNull(), json.toString());
        assertEquals("EMULATED", json.get("backend").asText());
    }

    @Test
    void theProbeGivesFeatureMasksAsHexStrings() throws Exception {
        JsonNode json = parse(Json.write(ProbeCommand.json(HostReport.probe())));
        for (String piece : List.of("vhostNet", "tun")) {
            JsonNode features = json.get(piece).get("features");
            assertTrue(features.isTextual() && features.asText().matches("0x[0-9a-f]+"), piece + ": " + features);
        }
        assertTrue(json.get("hugePages").get("total").isNumber(), json.toString());
    }
}
