package dev.vhostnet.microvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.vhostnet.eventfd.Kvm;
import dev.vhostnet.eventfd.KvmVm;
import dev.vhostnet.sys.Errno;
import dev.vhostnet.sys.KvmUapi;
import dev.vhostnet.sys.SysException;
import org.junit.jupiter.api.Test;

class KvmPitTest {
    /** KVM takes the PIT out of reinject mode once the PIT exists (ENXIO before). */
    @Test
    void thePitTicksWithoutWaitingForAcknowledgements() throws Exception {
        String cause = Kvm.unavailabilityCause();
        assumeTrue(cause == null, () -> "needs /dev/kvm: " + cause);
        try (Kvm kvm = Kvm.open();
                KvmVm vm = kvm.createVm()) {
            vm.createIrqchip();
            SysException before = assertThrows(SysException.class, () -> vm.setPitReinject(false));
            assertEquals(Errno.ENXIO.number(), before.errno());
            vm.createPit2(KvmUapi.KVM_PIT_SPEAKER_DUMMY);
            vm.setPitReinject(false);
        }
    }
}
