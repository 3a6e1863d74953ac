package dev.vhostnet.tap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class CommandTest {
    @Test
    void returnsTheExitStatusAndTheMergedOutput() throws Exception {
        Command.Result r = Command.exec(List.of("sh", "-c", "echo out; echo err >&2; exit 3"));
        assertEquals(3, r.exit());
        assertEquals("out\nerr\n", r.output());
    }

    @Test
    void aCommandThatRunsPastItsTimeoutIsKilledAndFailsWithItsOutput() {
        IOException e = assertTimeoutPreemptively(
                Duration.ofSeconds(10),
                () -> assertThrows(
                        IOException.class,
                        () -> Command.exec(
                                List.of("sh", "-c", "echo started; sleep 60 & sleep 60"), Duration.ofMillis(500))));
        assertTrue(e.getMessage().contains("did not finish in 500 ms: started"), e.getMessage());
    }
}
