package dev.vhostnet.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import org.junit.jupiter.api.Test;

class HugePagesTest {
    /** This machine's /proc/meminfo, huge page lines and their neighbours, with 700 pages set aside. */
    static final String MEMINFO = """
            MemTotal:       24683568 kB
            AnonHugePages:    772096 kB
            ShmemHugePages:        0 kB
            FileHugePages:         0 kB
            HugePages_Total:     700
            HugePages_Free:      572
            HugePages_Rsvd:        0
            HugePages_Surp:        0
            Hugepagesize:       2048 kB
            Hugetlb:         1433600 kB
            """;

    @Test
    void readsFreePagesAndTheirSize() throws IOException {
        HugePages pool = HugePages.parse(MEMINFO);
        assertEquals(new HugePages(572, 2048), pool);
        assertEquals(1144, pool.freeMib());
    }

    @Test
    void aShortfallSaysHowMuchIsMissingAndHowToGetIt() throws IOException {
        HugePages none = HugePages.parse(MEMINFO.replace("HugePages_Free:      572", "HugePages_Free:        0"));
        String why = none.shortfall(512, "the peers");
        assertTrue(
                why.startsWith("the peers need 512 MiB of free huge pages (256 of 2048 kB)")
                        && why.contains("0 free")
                        && why.contains("echo 700 > /proc/sys/vm/nr_hugepages"),
                why);
        assertNull(HugePages.parse(MEMINFO).shortfall(512, "the peers"), "1144 MiB free");
    }

    @Test
    void aMissingOrGarbledFieldIsAnErrorNotZero() {
        assertThrows(IOException.class, () -> HugePages.parse(MEMINFO.replace("HugePages_Free", "HugePages_Gone")));
        assertThrows(IOException.class, () -> HugePages.parse(MEMINFO.replace("2048 kB", "2048 MB")));
        assertThrows(IOException.class, () -> HugePages.parse(MEMINFO.replace("572", "-5")));
    }
}
