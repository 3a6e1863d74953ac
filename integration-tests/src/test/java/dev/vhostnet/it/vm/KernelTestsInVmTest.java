package dev.vhostnet.it.vm;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.TestFactory;

/**
 * Runs the tests tagged {@value TestVm#TAG} in the test VM when this host has no
 * {@code /dev/vhost-net}, and reports each as a test of its own name: a pass passes, a failure
 * fails with the in-VM message and stack trace, an abort or skip is skipped with its reason.
 */
@Tag("test-vm")
class KernelTestsInVmTest {

    @TestFactory
    Stream<DynamicTest> vhostNetTestsInTestVm() throws Exception {
        assumeFalse(
                TestVm.hostHasVhostNet(),
                "this host has /dev/vhost-net: the " + TestVm.TAG + " tests run directly on it");
        TestVm vm = TestVm.forThisModule();
        List<InVmResult> results = vm.runTests(TestVm.TAG);
        assertFalse(
                results.isEmpty(),
                () -> "no test tagged " + TestVm.TAG + " ran in the test VM; see " + vm.consoleLog());
        return results.stream().map(r -> DynamicTest.dynamicTest(r.name(), r::replay));
    }
}
