package dev.vhostnet.tools;

import com.google.common.collect.ImmutableList;
import dev.vhostnet.ctl.BackendChoice;
import dev.vhostnet.ctl.FeatureSet;
import dev.vhostnet.ctl.VirtioFeature;
import dev.vhostnet.ctl.kernel.VhostNet;
import dev.vhostnet.eventfd.Kvm;
import dev.vhostnet.memtable.HugePages;
import dev.vhostnet.memtable.VhostLimits;
import dev.vhostnet.sys.Errno;
import dev.vhostnet.sys.KvmUapi;
import dev.vhostnet.sys.SysException;
import dev.vhostnet.sys.TunUapi;
import dev.vhostnet.tap.Tun;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * What this host offers the kernel (vhost-net) and emulated backends, and for each thing it lacks,
 * why and the fix: {@code /dev/vhost-net} and its features, {@code max_mem_regions}, the tun
 * driver's {@code TUNGETFEATURES}, KVM's capabilities, huge pages, and the backend a device would get.
 */
public record HostReport(
        VhostNetReport vhostNet, TunReport tun, KvmReport kvm, HugePagesReport hugePages, BackendChoice backend) {

    /** How usable a piece is. */
    public enum Status {
        OK,
        /** The kernel has no driver for it (not built). */
        NOT_IN_KERNEL,
        /** Built as a module, not loaded. */
        NOT_LOADED,
        /** There, but this process may not open it. */
        NO_PERMISSION,
        /** There, and opening or querying it failed otherwise. */
        UNUSABLE;

        public boolean ok() {
            return this == OK;
        }
    }

    /**
     * {@code /dev/vhost-net}: {@code problem} says why it cannot be used and what to do ({@code null}
     * when {@link Status#OK}); {@code features} is {@code VHOST_GET_FEATURES} (0 unless OK).
     */
    public record VhostNetReport(
            Status status,
            String problem,
            long features,
            List<String> featureNames,
            int maxMemRegions,
            boolean maxMemRegionsFromModule) {}

    /** {@code /dev/net/tun} and its {@code TUNGETFEATURES}. */
    public record TunReport(Status status, String problem, int features, List<String> featureNames) {}

    /** {@code /dev/kvm}: the API version, the capabilities the wiring uses, and the memslot count. */
    public record KvmReport(Status status, String problem, int apiVersion, List<String> capabilities, int memslots) {}

    /** 2 MiB huge pages ({@code /proc/meminfo}). */
    public record HugePagesReport(long free, long total) {}

    /** The vhost-net features {@code probe} names, in the order it prints them. */
    private static final List<VirtioFeature> VHOST_FEATURES = List.of(
            VirtioFeature.VERSION_1,
            VirtioFeature.MRG_RXBUF,
            VirtioFeature.EVENT_IDX,
            VirtioFeature.INDIRECT_DESC,
            VirtioFeature.NOTIFY_ON_EMPTY,
            VirtioFeature.ANY_LAYOUT,
            VirtioFeature.ACCESS_PLATFORM,
            VirtioFeature.LOG_ALL,
            VirtioFeature.VIRTIO_NET_HDR);

    private static final Map<String, Integer> TUN_FEATURES = new LinkedHashMap<>();
    private static final Map<String, Integer> KVM_CAPS = new LinkedHashMap<>();

    static {
        TUN_FEATURES.put("TUN", TunUapi.IFF_TUN);
        TUN_FEATURES.put("TAP", TunUapi.IFF_TAP);
        TUN_FEATURES.put("NO_PI", TunUapi.IFF_NO_PI);
        TUN_FEATURES.put("VNET_HDR", TunUapi.IFF_VNET_HDR);
        TUN_FEATURES.put("MULTI_QUEUE", TunUapi.IFF_MULTI_QUEUE);
        KVM_CAPS.put("irqfd", KvmUapi.KVM_CAP_IRQFD);
        KVM_CAPS.put("irqfd-resample", KvmUapi.KVM_CAP_IRQFD_RESAMPLE);
        KVM_CAPS.put("ioeventfd", KvmUapi.KVM_CAP_IOEVENTFD);
        KVM_CAPS.put("ioeventfd-any-length", KvmUapi.KVM_CAP_IOEVENTFD_ANY_LENGTH);
        KVM_CAPS.put("irq-routing", KvmUapi.KVM_CAP_IRQ_ROUTING);
        KVM_CAPS.put("signal-msi", KvmUapi.KVM_CAP_SIGNAL_MSI);
    }

    /** Looks at this host now. */
    public static HostReport probe() {
        VhostNetReport vhost = probeVhostNet();
        return new HostReport(
                vhost,
                probeTun(),
                probeKvm(),
                new HugePagesReport(HugePages.free(), HugePages.total()),
                BackendChoice.choose(BackendChoice.Policy.PREFER_KERNEL, () -> vhost.problem()));
    }

    /** Why vhost-net cannot be used here and the fix, telling a kernel without it from an unloaded module; {@code null} when it can. */
    public static String vhostNetProblem() {
        return probeVhostNet().problem();
    }

    private static VhostNetReport probeVhostNet() {
        int regions = VhostLimits.maxMemRegions();
        boolean fromModule = Files.exists(VhostLimits.MAX_MEM_REGIONS);
        if (!Files.exists(VhostNet.DEVICE)) {
            Status status;
            String problem;
            if (Files.isDirectory(Path.of("/sys/module/vhost_net"))) {
                status = Status.UNUSABLE;
                problem =
                        "vhost_net is loaded but there is no /dev/vhost-net: mknod /dev/vhost-net c 10 238 (or pass the device into the container)";
            } else if (moduleBuilt("vhost_net")) {
                status = Status.NOT_LOADED;
                problem = "no /dev/vhost-net: the vhost_net module is not loaded: modprobe vhost_net";
            } else {
                status = Status.NOT_IN_KERNEL;
                problem = "no /dev/vhost-net: this kernel (" + System.getProperty("os.version")
                        + ") has no vhost-net (CONFIG_VHOST_NET is off): boot a kernel with it, or use the emulated backend";
            }
            return new VhostNetReport(status, problem, 0, List.of(), regions, fromModule);
        }
        try (VhostNet v = VhostNet.open()) {
            v.setOwner();
            long features = v.getFeatures();
            FeatureSet offer = FeatureSet.of(features);
            List<String> names = VHOST_FEATURES.stream()
                    .filter(offer::has)
                    .map(VirtioFeature::name)
                    .toList();
            return new VhostNetReport(Status.OK, null, features, names, regions, fromModule);
        } catch (SysException e) {
            return new VhostNetReport(
                    permission(e) ? Status.NO_PERMISSION : Status.UNUSABLE,
                    e.getMessage(),
                    0,
                    List.of(),
                    regions,
                    fromModule);
        }
    }

    /** Whether {@code module} is in this kernel's module tree ({@code modules.dep}) or built in ({@code modules.builtin}). */
    static boolean moduleBuilt(String module) {
        Path dir = Path.of("/lib/modules", System.getProperty("os.version"));
        String file = "/" + module + ".ko";
        for (String list : new String[] {"modules.dep", "modules.builtin"}) {
            try (Stream<String> lines = Files.lines(dir.resolve(list))) {
                if (lines.anyMatch(l -> l.startsWith(module + ".ko") || l.contains(file))) {
                    return true;
                }
            } catch (IOException | java.io.UncheckedIOException e) {
                // no such list: look in the next
            }
        }
        return false;
    }

    private static boolean permission(SysException e) {
        return e.is(Errno.EACCES) || e.is(Errno.EPERM);
    }

    private static TunReport probeTun() {
        Throwable cause = Tun.unavailabilityCause();
        if (cause != null) {
            Status status = !Files.exists(Path.of(Tun.PATH))
                    ? Status.NOT_LOADED
                    : cause instanceof SysException e && permission(e) ? Status.NO_PERMISSION : Status.UNUSABLE;
            return new TunReport(status, cause.getMessage(), 0, List.of());
        }
        try {
            int f = Tun.features();
            List<String> names = TUN_FEATURES.entrySet().stream()
                    .filter(e -> (f & e.getValue()) != 0)
                    .map(Map.Entry::getKey)
                    .toList();
            return new TunReport(Status.OK, null, f, names);
        } catch (SysException e) {
            return new TunReport(permission(e) ? Status.NO_PERMISSION : Status.UNUSABLE, e.getMessage(), 0, List.of());
        }
    }

    private static KvmReport probeKvm() {
        String cause = Kvm.unavailabilityCause();
        if (cause != null) {
            Status status = !Files.exists(Kvm.DEVICE)
                    ? Status.NOT_LOADED
                    : cause.contains("EACCES") || cause.contains("EPERM") ? Status.NO_PERMISSION : Status.UNUSABLE;
            return new KvmReport(status, cause, 0, List.of(), 0);
        }
        try (Kvm kvm = Kvm.open()) {
            ImmutableList.Builder<String> caps = ImmutableList.builder();
            for (Map.Entry<String, Integer> c : KVM_CAPS.entrySet()) {
                if (kvm.checkExtension(c.getValue()) > 0) {
                    caps.add(c.getKey());
                }
            }
            return new KvmReport(
                    Status.OK,
                    null,
                    KvmUapi.KVM_API_VERSION,
                    caps.build(),
                    kvm.checkExtension(KvmUapi.KVM_CAP_NR_MEMSLOTS));
        } catch (SysException e) {
            return new KvmReport(
                    permission(e) ? Status.NO_PERMISSION : Status.UNUSABLE, e.getMessage(), 0, List.of(), 0);
        }
    }
}
