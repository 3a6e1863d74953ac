package dev.vhostnet.tools;

import dev.vhostnet.ctl.VhostNet;
import dev.vhostnet.ctl.VirtioUapi;
import dev.vhostnet.eventfd.Kvm;
import dev.vhostnet.memtable.HugePages;
import dev.vhostnet.memtable.VhostLimits;
import dev.vhostnet.sys.KvmUapi;
import dev.vhostnet.sys.SysException;
import dev.vhostnet.sys.TunUapi;
import dev.vhostnet.sys.VhostUapi;
import dev.vhostnet.tap.Tun;
import java.io.PrintStream;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Reports what this host offers each backend, and the fix for what it lacks. */
final class Probe {
    private static final Map<String, Long> VHOST_FEATURES = new LinkedHashMap<>();

    static {
        VHOST_FEATURES.put("VERSION_1", VirtioUapi.bit(VirtioUapi.VIRTIO_F_VERSION_1));
        VHOST_FEATURES.put("MRG_RXBUF", VirtioUapi.bit(VirtioUapi.VIRTIO_NET_F_MRG_RXBUF));
        VHOST_FEATURES.put("EVENT_IDX", VirtioUapi.bit(VirtioUapi.VIRTIO_RING_F_EVENT_IDX));
        VHOST_FEATURES.put("INDIRECT_DESC", VirtioUapi.bit(VirtioUapi.VIRTIO_RING_F_INDIRECT_DESC));
        VHOST_FEATURES.put("NOTIFY_ON_EMPTY", VirtioUapi.bit(VirtioUapi.VIRTIO_F_NOTIFY_ON_EMPTY));
        VHOST_FEATURES.put("ANY_LAYOUT", VirtioUapi.bit(VirtioUapi.VIRTIO_F_ANY_LAYOUT));
        VHOST_FEATURES.put("ACCESS_PLATFORM", VirtioUapi.bit(VirtioUapi.VIRTIO_F_ACCESS_PLATFORM));
        VHOST_FEATURES.put("LOG_ALL", VirtioUapi.bit(VhostUapi.VHOST_F_LOG_ALL));
        VHOST_FEATURES.put("VIRTIO_NET_HDR", VirtioUapi.bit(VhostUapi.VHOST_NET_F_VIRTIO_NET_HDR));
    }

    void print(PrintStream out) {
        out.println("vhostnet probe: what this host offers the kernel (vhost-net) and emulated backends");
        out.println();
        boolean vhost = vhostNet(out);
        tun(out);
        kvm(out);
        hugePages(out);
        out.println();
        out.printf("%-12s %s%n", "backend", vhost ? "kernel (vhost-net)" : "emulated (the kernel backend needs /dev/vhost-net)");
    }

    private static boolean vhostNet(PrintStream out) {
        String cause = VhostNet.unavailabilityCause();
        int maxRegions = VhostLimits.maxMemRegions();
        String regions = "max_mem_regions " + maxRegions
                + (Files.exists(VhostLimits.MAX_MEM_REGIONS) ? "" : " (module default: vhost not loaded)");
        if (cause != null) {
            out.printf("%-12s missing: %s%n%-12s %s%n", "vhost-net", cause, "", regions);
            return false;
        }
        try (VhostNet v = VhostNet.open()) {
            v.setOwner();
            long features = v.getFeatures();
            out.printf("%-12s ok: features 0x%x (%s)%n%-12s %s%n", "vhost-net", features,
                    String.join(" ", names(features)), "", regions);
            return true;
        } catch (SysException e) {
            out.printf("%-12s unusable: %s%n", "vhost-net", e.getMessage());
            return false;
        }
    }

    private static List<String> names(long features) {
        List<String> names = new ArrayList<>();
        VHOST_FEATURES.forEach((name, bit) -> {
            if ((features & bit) != 0) {
                names.add(name);
            }
        });
        return names;
    }

    private static void tun(PrintStream out) {
        if (!Tun.isAvailable()) {
            out.printf("%-12s missing: %s%n", "tun", Tun.unavailabilityCause().getMessage());
            return;
        }
        try {
            int f = Tun.features();
            List<String> names = new ArrayList<>();
            flag(names, f, TunUapi.IFF_TAP, "TAP");
            flag(names, f, TunUapi.IFF_NO_PI, "NO_PI");
            flag(names, f, TunUapi.IFF_VNET_HDR, "VNET_HDR");
            flag(names, f, TunUapi.IFF_MULTI_QUEUE, "MULTI_QUEUE");
            out.printf("%-12s ok: %s%n", "tun", String.join(" ", names));
        } catch (SysException e) {
            out.printf("%-12s unusable: %s%n", "tun", e.getMessage());
        }
    }

    private static void flag(List<String> names, int features, int flag, String name) {
        if ((features & flag) != 0) {
            names.add(name);
        }
    }

    private static void kvm(PrintStream out) {
        String cause = Kvm.unavailabilityCause();
        if (cause != null) {
            out.printf("%-12s missing: %s%n", "kvm", cause);
            return;
        }
        try (Kvm kvm = Kvm.open()) {
            List<String> caps = new ArrayList<>();
            cap(kvm, caps, KvmUapi.KVM_CAP_IRQFD, "irqfd");
            cap(kvm, caps, KvmUapi.KVM_CAP_IRQFD_RESAMPLE, "irqfd-resample");
            cap(kvm, caps, KvmUapi.KVM_CAP_IOEVENTFD, "ioeventfd");
            cap(kvm, caps, KvmUapi.KVM_CAP_IOEVENTFD_ANY_LENGTH, "ioeventfd-any-length");
            cap(kvm, caps, KvmUapi.KVM_CAP_IRQ_ROUTING, "irq-routing");
            cap(kvm, caps, KvmUapi.KVM_CAP_SIGNAL_MSI, "signal-msi");
            out.printf("%-12s ok: API %d; %s; %d memslots%n", "kvm", KvmUapi.KVM_API_VERSION, String.join(" ", caps),
                    kvm.checkExtension(KvmUapi.KVM_CAP_NR_MEMSLOTS));
        } catch (SysException e) {
            out.printf("%-12s unusable: %s%n", "kvm", e.getMessage());
        }
    }

    private static void cap(Kvm kvm, List<String> caps, int cap, String name) throws SysException {
        if (kvm.checkExtension(cap) > 0) {
            caps.add(name);
        }
    }

    private static void hugePages(PrintStream out) {
        out.printf("%-12s %d of %d 2 MiB pages free%n", "huge pages", HugePages.free(), HugePages.total());
    }
}
