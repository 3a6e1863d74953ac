package dev.vhostnet.tap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BridgeAclTest {
    @TempDir
    Path dir;

    private Path file(String name, String text) throws IOException {
        Path f = dir.resolve(name);
        Files.writeString(f, text);
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-r--r--"));
        return f;
    }

    @Test
    void allowsWhatARuleAllowsAndNothingByDefault() throws Exception {
        BridgeAcl acl = BridgeAcl.read(file("bridge.conf", "# QEMU's format\n\n  allow br0  \n\tallow\tbr1\n"));
        assertEquals(2, acl.rules().size());
        BridgeAcl.Decision br0 = acl.decide("br0");
        assertTrue(br0.granted());
        assertEquals("allowed by " + dir.resolve("bridge.conf") + ":3 (allow br0)", br0.reason());
        assertTrue(acl.decide("br1").granted());
        BridgeAcl.Decision other = acl.decide("br2");
        assertFalse(other.granted());
        assertEquals("allowed by no rule", other.reason());
        assertFalse(
                BridgeAcl.read(file("empty.conf", "# nothing\n")).decide("br0").granted(), "default deny");
    }

    @Test
    void denyWinsWhateverTheOrder() throws Exception {
        assertFalse(BridgeAcl.read(file("a.conf", "deny br0\nallow br0\n"))
                .decide("br0")
                .granted());
        assertFalse(BridgeAcl.read(file("b.conf", "allow br0\ndeny br0\n"))
                .decide("br0")
                .granted());
        BridgeAcl all = BridgeAcl.read(file("c.conf", "allow all\ndeny br1\n"));
        assertTrue(all.decide("br0").granted());
        BridgeAcl.Decision br1 = all.decide("br1");
        assertFalse(br1.granted());
        assertEquals("denied by " + dir.resolve("c.conf") + ":2 (deny br1)", br1.reason());
        BridgeAcl none = BridgeAcl.read(file("d.conf", "allow br0\ndeny all\n"));
        assertFalse(none.decide("br0").granted(), "deny all beats an allow of the bridge");
    }

    @Test
    void includesAreReadInPlaceAndAMissingOneAddsNothing() throws Exception {
        file("alice.conf", "allow br-alice\n");
        BridgeAcl acl = BridgeAcl.read(
                file("bridge.conf", "include alice.conf\ninclude " + dir.resolve("nobody.conf") + "\nallow br0\n"));
        assertTrue(acl.decide("br-alice").granted());
        assertTrue(acl.decide("br0").granted());
        assertEquals(dir.resolve("alice.conf") + ":1", acl.rules().get(0).where());
    }

    @Test
    void refusesWhatIsNotARuleNamingFileAndLine() throws Exception {
        Path conf = file("bad.conf", "allow br0\nallowbr1\n");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BridgeAcl.read(conf));
        assertTrue(e.getMessage().startsWith(conf + ":2: 'allowbr1' is not a rule"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> BridgeAcl.read(file("verb.conf", "permit br0\n")));
        assertTrue(e.getMessage().contains(":1: unknown command 'permit'"), e.getMessage());
        e = assertThrows(
                IllegalArgumentException.class,
                () -> BridgeAcl.read(file("long.conf", "allow averyveryverylongbridge\n")));
        assertTrue(e.getMessage().contains("bridge name 'averyveryverylongbridge' is 23 bytes"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> BridgeAcl.read(file("space.conf", "allow br 0\n")));
        assertTrue(e.getMessage().contains("has ' ' at 2"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> BridgeAcl.read(file("ctl.conf", "deny b\u0001r\n")));
        assertTrue(e.getMessage().contains("'b\\u0001r'"), e.getMessage());
    }

    @Test
    void refusesAnIncludeCycleAndAFileOthersMayWrite() throws Exception {
        file("x.conf", "include y.conf\n");
        file("y.conf", "include x.conf\n");
        IllegalArgumentException cycle =
                assertThrows(IllegalArgumentException.class, () -> BridgeAcl.read(dir.resolve("x.conf")));
        assertTrue(cycle.getMessage().contains("include cycle"), cycle.getMessage());
        Path open = file("open.conf", "allow all\n");
        Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rw-rw-rw-"));
        IllegalArgumentException writable = assertThrows(IllegalArgumentException.class, () -> BridgeAcl.read(open));
        assertTrue(
                writable.getMessage().contains("with mode 0666: an ACL must be owned by root"), writable.getMessage());
        assertThrows(java.nio.file.NoSuchFileException.class, () -> BridgeAcl.read(dir.resolve("absent.conf")));
    }
}
