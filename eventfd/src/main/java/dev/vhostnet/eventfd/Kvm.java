package dev.vhostnet.eventfd;

import com.sun.jna.Memory;
import dev.vhostnet.sys.Errno;
import dev.vhostnet.sys.Fcntl;
import dev.vhostnet.sys.Fd;
import dev.vhostnet.sys.KvmUapi;
import dev.vhostnet.sys.KvmUapi.KvmCpuid2;
import dev.vhostnet.sys.KvmUapi.KvmCpuidEntry2;
import dev.vhostnet.sys.SysException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The KVM system fd ({@code /dev/kvm}, {@code <linux/kvm.h>}): capabilities and VM creation. */
public final class Kvm implements AutoCloseable {
    public static final Path DEVICE = Path.of("/dev/kvm");

    private final Fd fd;

    private Kvm(Fd fd) {
        this.fd = fd;
    }

    /** Opens {@code /dev/kvm} and checks the API version is the stable one (12). */
    public static Kvm open() throws SysException {
        Fd fd = Fd.open(DEVICE.toString(), Fcntl.O_RDWR, errno -> {
            if (errno == Errno.ENOENT.number()) {
                return "KVM not available: enable virtualization and load kvm-intel or kvm-amd";
            }
            if (errno == Errno.EACCES.number() || errno == Errno.EPERM.number()) {
                return "no permission on /dev/kvm: add the user to group kvm";
            }
            return null;
        });
        try {
            int version = fd.ioctl(KvmUapi.KVM_GET_API_VERSION);
            if (version != KvmUapi.KVM_API_VERSION) {
                throw new IllegalStateException("KVM API version " + version + ", expected " + KvmUapi.KVM_API_VERSION);
            }
            return new Kvm(fd);
        } catch (SysException | RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    /** Whether {@code /dev/kvm} can be opened by this process. */
    public static boolean isAvailable() {
        return unavailabilityCause() == null;
    }

    /** Why KVM cannot be used, with the fix; {@code null} when it can. */
    public static String unavailabilityCause() {
        if (!Files.exists(DEVICE)) {
            return "no /dev/kvm: enable virtualization and load kvm-intel or kvm-amd";
        }
        try {
            open().close();
            return null;
        } catch (SysException | RuntimeException e) {
            return e.getMessage();
        }
    }

    /** {@code KVM_CHECK_EXTENSION}: 0 when the capability is missing, else a capability-specific value. */
    public int checkExtension(int capability) throws SysException {
        return fd.ioctl(KvmUapi.KVM_CHECK_EXTENSION, capability);
    }

    int vcpuMmapSize() throws SysException {
        return fd.ioctl(KvmUapi.KVM_GET_VCPU_MMAP_SIZE);
    }

    /**
     * {@code KVM_GET_SUPPORTED_CPUID}: every CPUID leaf KVM can give a guest on this host, with the
     * bits it can virtualize. The table grows until it fits ({@code E2BIG} means too small).
     */
    public List<CpuidEntry> supportedCpuid() throws SysException {
        for (int capacity = 128; ; capacity *= 2) {
            Memory table = new Memory(KvmCpuid2.SIZE + (long) KvmCpuidEntry2.SIZE * capacity);
            table.clear();
            table.setInt(0, capacity);
            try {
                fd.ioctl(KvmUapi.KVM_GET_SUPPORTED_CPUID, table);
            } catch (SysException e) {
                if (e.is(Errno.E2BIG) && capacity < 4096) {
                    continue;
                }
                throw e;
            }
            int n = table.getInt(0);
            List<CpuidEntry> entries = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                KvmCpuidEntry2 e = new KvmCpuidEntry2(table.share(KvmCpuid2.SIZE + (long) KvmCpuidEntry2.SIZE * i));
                e.read();
                entries.add(new CpuidEntry(e.function, e.index, e.flags, e.eax, e.ebx, e.ecx, e.edx));
            }
            return entries;
        }
    }

    /** {@code KVM_CREATE_VM}: a new, empty VM. */
    public KvmVm createVm() throws SysException {
        int vm = fd.ioctl(KvmUapi.KVM_CREATE_VM, 0);
        return new KvmVm(this, Fd.adopt(vm, "kvm-vm"));
    }

    @Override
    public void close() {
        fd.close();
    }
}
