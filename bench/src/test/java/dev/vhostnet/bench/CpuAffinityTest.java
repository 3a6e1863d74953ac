package dev.vhostnet.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class CpuAffinityTest {
    @Test
    void expandsTheKernelsCpuLists() throws IOException {
        assertEquals(List.of(0, 1), CpuAffinity.parseList("0-1"));
        assertEquals(List.of(0, 1, 2, 3, 8, 10, 11), CpuAffinity.parseList("0-3,8,10-11"));
        assertEquals(List.of(5), CpuAffinity.parseList("5"));
    }

    @Test
    void refusesWhatIsNotACpuList() {
        for (String bad : List.of("", "3-1", "0-", "a", "0,,1", "0-1\n2", "99999")) {
            assertThrows(IOException.class, () -> CpuAffinity.parseList(bad), "'" + bad + "'");
        }
    }

    @Test
    void readsTheAllowedListFromAThreadsStatus() throws IOException {
        String status = "Name:\tjava\nCpus_allowed:\t3\nCpus_allowed_list:\t0-1\nMems_allowed_list:\t0\n";
        assertEquals("0-1", CpuAffinity.allowedList(status, Path.of("/proc/1/task/1")));
        assertThrows(
                IOException.class,
                () -> CpuAffinity.allowedList("Name:\tjava\n", Path.of("/proc/1/task/1")),
                "no Cpus_allowed_list line");
    }
}
