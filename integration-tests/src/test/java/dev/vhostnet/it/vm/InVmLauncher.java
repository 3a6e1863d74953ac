package dev.vhostnet.it.vm;

import static org.junit.platform.engine.discovery.DiscoverySelectors.selectPackage;
import static org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder.request;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedList;
import java.util.List;
import java.util.Optional;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.engine.TestExecutionResult.Status;
import org.junit.platform.launcher.TagFilter;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.TestPlan;
import org.junit.platform.launcher.core.LauncherFactory;

/**
 * Runs, in the test VM, the tests of package {@code dev.vhostnet} on the class path that carry a
 * tag, and writes their results to a file (see {@link InVmResult}) for {@link TestVm} on the host.
 *
 * <p>Arguments: the results file, then optionally the tag (default {@value TestVm#TAG}). Exits
 * with 0 once the results file is written, whatever the tests' outcomes.
 */
public final class InVmLauncher {

    private InVmLauncher() {}

    public static void main(String[] args) throws IOException {
        if (args.length < 1 || args.length > 2) {
            System.err.println("usage: InVmLauncher RESULTS_FILE [TAG]");
            System.exit(2);
        }
        Path resultsFile = Path.of(args[0]);
        String tag = args.length == 2 ? args[1] : TestVm.TAG;
        System.out.printf(
                "InVmLauncher: running tests tagged %s (system up %ss, JVM up %d ms)%n",
                tag,
                Files.readString(Path.of("/proc/uptime")).split(" ")[0],
                ManagementFactory.getRuntimeMXBean().getUptime());
        Recorder recorder = new Recorder();
        LauncherFactory.create()
                .execute(
                        request()
                                .selectors(selectPackage("dev.vhostnet"))
                                .filters(TagFilter.includeTags(tag))
                                .build(),
                        recorder);
        InVmResult.writeAll(resultsFile, recorder.results);
        System.out.printf("InVmLauncher: wrote %d results to %s%n", recorder.results.size(), resultsFile);
        // Tests may leave non-daemon threads behind; they must not keep the VM up.
        System.exit(0);
    }

    /** Records every test's outcome, and those of containers that did not succeed. */
    private static final class Recorder implements TestExecutionListener {

        final List<InVmResult> results = new ArrayList<>();
        private TestPlan plan;

        @Override
        public void testPlanExecutionStarted(TestPlan testPlan) {
            plan = testPlan;
        }

        @Override
        public void executionSkipped(TestIdentifier id, String reason) {
            results.add(new InVmResult(Status.ABORTED, name(id), id.getUniqueId(), "skipped: " + reason, ""));
        }

        @Override
        public void executionFinished(TestIdentifier id, TestExecutionResult result) {
            if (!id.isTest() && result.getStatus() == Status.SUCCESSFUL) {
                return;
            }
            Optional<Throwable> thrown = result.getThrowable();
            String message = thrown.map(t -> t.getMessage() != null ? t.getMessage() : t.toString())
                    .orElse("");
            String trace = thrown.map(InVmLauncher::stackTrace).orElse("");
            results.add(new InVmResult(result.getStatus(), name(id), id.getUniqueId(), message, trace));
        }

        /** The display names from the test's class down to the test, or the engine's name. */
        private String name(TestIdentifier id) {
            LinkedList<String> names = new LinkedList<>();
            for (TestIdentifier i = id;
                    i.getParentIdObject().isPresent();
                    i = plan.getTestIdentifier(i.getParentIdObject().get())) {
                names.addFirst(i.getDisplayName());
            }
            return names.isEmpty() ? id.getDisplayName() : String.join(" > ", names);
        }
    }

    private static String stackTrace(Throwable t) {
        StringWriter out = new StringWriter();
        t.printStackTrace(new PrintWriter(out));
        return out.toString();
    }
}
