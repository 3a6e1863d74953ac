package dev.vhostnet.tap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vhostnet.sys.TunUapi;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class TapConfigTest {
    private static String rejected(TapConfig.Builder b) {
        return assertThrows(IllegalArgumentException.class, b::build).getMessage();
    }

    @Test
    void defaultsToOneQueueTapPatternWithoutVnetHeader() {
        TapConfig c = TapConfig.builder().build();
        assertEquals("tap%d", c.name());
        assertEquals(1, c.queues());
        assertFalse(c.vnetHeader());
        assertEquals(TunUapi.IFF_TAP | TunUapi.IFF_NO_PI, c.iffFlags());
    }

    @Test
    void moreThanOneQueueMeansMultiQueueAndAVnetHeaderSetsIffVnetHdr() {
        TapConfig c = TapConfig.builder().queues(4).vnetHeader(12).build();
        assertEquals(
                TunUapi.IFF_TAP | TunUapi.IFF_NO_PI | TunUapi.IFF_VNET_HDR | TunUapi.IFF_MULTI_QUEUE, c.iffFlags());
    }

    @Test
    void rejectsANameOverFifteenBytesSayingSo() {
        String m = rejected(TapConfig.builder().name("a-name-of-16-byt"));
        assertTrue(m.contains("16 bytes") && m.contains("at most 15") && m.contains("shorten"), m);
        TapConfig.builder().name("a-name-of-15-by").build();
    }

    @ParameterizedTest
    @ValueSource(strings = {"a/b", "a b", "a\tb", "a:b", ".", ".."})
    void rejectsNamesTheKernelRefuses(String name) {
        String m = rejected(TapConfig.builder().name(name));
        assertTrue(m.contains("tap name '" + name + "'"), m);
    }

    @Test
    void rejectsAnEmptyNameSuggestingOne() {
        assertTrue(rejected(TapConfig.builder().name("")).contains("tap name is empty: give a name"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"tap%s", "tap%d%d", "tap%"})
    void acceptsOnlyOneDecimalPattern(String name) {
        assertTrue(rejected(TapConfig.builder().name(name)).contains("exactly one %d"));
    }

    @ParameterizedTest
    @ValueSource(ints = {0, -1, 257})
    void rejectsQueueCountsOutsideTheKernelLimit(int queues) {
        String m = rejected(TapConfig.builder().queues(queues));
        assertTrue(m.contains("1 to 256") && m.contains("MAX_TAP_QUEUES"), m);
    }

    @Test
    void acceptsTheKernelLimitOfQueues() {
        assertEquals(256, TapConfig.builder().queues(256).build().queues());
    }

    @ParameterizedTest
    @ValueSource(ints = {8, 11, 20})
    void rejectsVnetHeaderSizesOtherThanTenOrTwelve(int size) {
        assertTrue(rejected(TapConfig.builder().vnetHeader(size)).contains("10 (legacy) or 12"));
    }

    @Test
    void offloadsNeedAVnetHeaderAndChecksumOffload() {
        assertTrue(rejected(TapConfig.builder().offloads(Offload.CSUM)).contains("add vnetHeader(12)"));
        assertTrue(rejected(TapConfig.builder().vnetHeader(12).offloads(Offload.TSO4))
                .contains("need CSUM"));
        assertTrue(rejected(TapConfig.builder().vnetHeader(12).offloads(Offload.CSUM, Offload.TSO_ECN))
                .contains("TSO4 or TSO6"));
        assertTrue(rejected(TapConfig.builder().vnetHeader(12).offloads(Offload.CSUM, Offload.USO4))
                .contains("only together"));
    }

    @Test
    void rejectsMtuOutsideTheTunDriverRange() {
        assertTrue(rejected(TapConfig.builder().mtu(67)).contains("68 to 65535"));
        assertTrue(rejected(TapConfig.builder().mtu(65536)).contains("68 to 65535"));
    }

    @Test
    void rejectsAMulticastOrZeroMac() {
        assertTrue(rejected(TapConfig.builder().mac(MacAddress.parse("01:00:5e:00:00:01")))
                .contains("not a unicast"));
        assertTrue(rejected(TapConfig.builder().mac(MacAddress.of(new byte[6]))).contains("not a unicast"));
    }

    @Test
    void macAddressesParseAndPrintAsIpLinkDoes() {
        assertEquals("02:0a:ff:00:00:01", MacAddress.parse("02:0A:FF:00:00:01").toString());
        assertThrows(IllegalArgumentException.class, () -> MacAddress.parse("02:00:00:00:00"));
    }
}
