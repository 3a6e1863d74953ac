package dev.vhostnet.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.collect.ImmutableMap;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The core jars ({@code vhostnet-ctl}, {@code tap}, {@code vhostuser}) carry what a VMM runs, not
 * the harness: no class in them may have tests, the demo or the bench as its only users. Users are
 * read from the compiled classes of every module (the names a class file mentions).
 */
class CoreJarsTest {
    private static final List<String> CORE = List.of("vhostnet-ctl", "tap", "vhostuser");
    /** Main code that is harness: the bench, and the demo of the command line. */
    private static final Set<String> HARNESS = Set.of("dev/vhostnet/tools/Loopback", "dev/vhostnet/tools/DemoCommand");
    /** Entry points a VMM calls and nothing in the product calls for it, each with why it is API. */
    private static final ImmutableMap<String, String> API = ImmutableMap.of(
            "dev/vhostnet/ctl/NetDevices", "starts a device on the backend a policy picks (QEMU's vhost=on)",
            "dev/vhostnet/vhostuser/VhostUserDialer", "client mode: the VMM dials a back-end, with reconnect",
            "dev/vhostnet/vhostuser/VhostUserListener", "server mode: a back-end dials the VMM, with reconnect");

    private static final Pattern NAME = Pattern.compile("dev/vhostnet/[\\w/$]+");

    private record Unit(String module, boolean test, String name) {}

    @Test
    void holdNoClassWhoseOnlyUsersAreTestsTheDemoOrTheBench() throws IOException {
        Map<Unit, Set<String>> mentions = new HashMap<>();
        try (Stream<Path> modules = Files.list(Path.of("..").toAbsolutePath().normalize())) {
            for (Path module :
                    modules.filter(m -> Files.isDirectory(m.resolve("target"))).toList()) {
                read(module, false, mentions);
                read(module, true, mentions);
            }
        }
        Set<String> harnessOnly = new TreeSet<>();
        int core = 0;
        for (Unit unit : mentions.keySet()) {
            if (unit.test() || !CORE.contains(unit.module())) {
                continue;
            }
            core++;
            Set<Unit> users = new HashSet<>();
            mentions.forEach((user, names) -> {
                if (!user.name().equals(unit.name()) && names.contains(unit.name())) {
                    users.add(user);
                }
            });
            boolean product = users.stream()
                    .anyMatch(u -> !u.test()
                            && !u.module().equals("bench")
                            && !u.module().equals("integration-tests")
                            && !HARNESS.contains(u.name()));
            if (!users.isEmpty() && !product && !API.containsKey(unit.name())) {
                harnessOnly.add(unit.name() + " (used by "
                        + new TreeSet<>(users.stream().map(Unit::module).toList()) + ")");
            }
        }
        assertTrue(core > 50, "the core jars' classes were found: " + core);
        assertEquals(
                Set.of(),
                harnessOnly,
                "used only by tests, the demo or the bench: move them to testkit, or, "
                        + "if a VMM calls them, list them in API with why");
    }

    private static void read(Path module, boolean test, Map<Unit, Set<String>> mentions) throws IOException {
        Path classes = module.resolve(test ? "target/test-classes" : "target/classes");
        if (!Files.isDirectory(classes)) {
            return;
        }
        try (Stream<Path> files = Files.walk(classes)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".class")).toList()) {
                String file = classes.relativize(f).toString();
                String name =
                        file.substring(0, file.length() - ".class".length()).split("\\$")[0];
                Set<String> names = mentions.computeIfAbsent(
                        new Unit(module.getFileName().toString(), test, name), u -> new HashSet<>());
                Matcher m = NAME.matcher(new String(Files.readAllBytes(f), StandardCharsets.ISO_8859_1));
                while (m.find()) {
                    names.add(m.group().split("\\$")[0]);
                }
            }
        }
    }
}
