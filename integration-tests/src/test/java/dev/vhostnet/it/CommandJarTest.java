package dev.vhostnet.it;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarFile;
import org.junit.jupiter.api.Test;

/**
 * The command's shaded jar ({@code tools/target/vhostnet.jar}, what {@code ./vhostnet} runs) works on
 * its own: its version comes from its manifest, and a command that loads JNA's and Netty's natives
 * and junixsocket's service files runs from it. Built by the package phase, so it runs under verify.
 */
class CommandJarTest {
    private static final Path JAR = Path.of("..", "tools", "target", "vhostnet.jar").toAbsolutePath().normalize();

    private static String run(String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-jar", JAR.toString()));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "vhostnet " + String.join(" ", args) + " finished");
        assertEquals(0, p.exitValue(), out);
        return out;
    }

    @Test
    void printsTheVersionItsManifestCarriesAndRunsACommand() throws Exception {
        assumeTrue(Files.isRegularFile(JAR), "no " + JAR + ": built by mvn package");
        String version;
        try (JarFile jar = new JarFile(JAR.toFile())) {
            version = jar.getManifest().getMainAttributes().getValue("Implementation-Version");
            assertEquals("dev.vhostnet.tools.Main", jar.getManifest().getMainAttributes().getValue("Main-Class"));
        }
        assertTrue(version != null && !version.isBlank(), "Implementation-Version in the manifest");
        assertTrue(run("--version").startsWith("vhostnet " + version + "\n"), "the manifest's version");
        String probe = run("probe", "--json");
        assertTrue(probe.contains("\"tun\":") && probe.contains("\"backend\":{\"kind\":"), probe);
    }
}
