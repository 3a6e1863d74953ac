package dev.vhostnet.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.jar.JarFile;
import org.junit.jupiter.api.Test;

/**
 * The command's shaded jar ({@code tools/target/vhostnet.jar}, what {@code ./vhostnet} runs) works on
 * its own: its version comes from its manifest, and a command that loads JNA's and Netty's natives
 * and junixsocket's service files runs from it. Built by the package phase, so it runs under verify.
 */
class CommandJarTest {
    private static final Path JAR =
            Path.of("..", "tools", "target", "vhostnet.jar").toAbsolutePath().normalize();

    private static String run(String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of("-jar", JAR.toString()));
        command.addAll(List.of(args));
        return JavaProcess.run(command, "", Duration.ofSeconds(60));
    }

    @Test
    void printsTheVersionItsManifestCarriesAndRunsACommand() throws Exception {
        assumeTrue(Files.isRegularFile(JAR), "no " + JAR + ": built by mvn package");
        String version;
        try (JarFile jar = new JarFile(JAR.toFile())) {
            version = jar.getManifest().getMainAttributes().getValue("Implementation-Version");
            assertEquals(
                    "dev.vhostnet.tools.Main",
                    jar.getManifest().getMainAttributes().getValue("Main-Class"));
        }
        assertTrue(version != null && !version.isBlank(), "Implementation-Version in the manifest");
        assertTrue(run("--version").startsWith("vhostnet " + version + "\n"), "the manifest's version");
        String probe = run("probe", "--json");
        assertTrue(probe.contains("\"tun\":") && probe.contains("\"backend\":{\"kind\":"), probe);
    }
}
