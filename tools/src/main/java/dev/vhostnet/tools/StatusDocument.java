package dev.vhostnet.tools;

import dev.vhostnet.bench.Json;
import dev.vhostnet.broker.Broker;
import dev.vhostnet.broker.BrokerCounters;
import dev.vhostnet.ctl.NetDeviceCounters;
import dev.vhostnet.tap.TapStatistics;
import dev.vhostnet.vhostuser.VhostUserNetBackend;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The JSON document a daemon's {@link StatusSocket} answers with, and so what {@code vhostnet status
 * --json} prints: {@code daemon} names which ({@code "vhost-user"} or {@code "serve"}), then its
 * counters. Counts nobody keeps (traffic a vhost-net worker moved, a tap gone) are {@code null}.
 */
final class StatusDocument {
    private StatusDocument() {}

    /** A {@code vhostnet vhost-user} back-end: its front-ends and its device's counters. */
    static Map<String, Object> vhostUser(VhostUserNetBackend backend, String tap) {
        return Json.object(
                "daemon", "vhost-user",
                "pid", ProcessHandle.current().pid(),
                "socket", backend.socket().toString(),
                "tap", tap,
                "frontends",
                        Json.object(
                                "connections", backend.connections(),
                                "running", backend.isRunning(),
                                "dropped", backend.drops()),
                "device", device(backend.counters()));
    }

    /** A {@code vhostnet serve} broker: it has no device, so its grants, refusals and leases. */
    static Map<String, Object> broker(Broker broker) {
        BrokerCounters c = broker.counters();
        Map<String, Object> refused = Json.object();
        c.refused().forEach((code, n) -> refused.put(code.name(), n));
        List<Object> leases = new ArrayList<>();
        for (String tap : c.leased()) {
            leases.add(Json.object("tap", tap, "statistics", tap(TapStatistics.read(tap))));
        }
        return Json.object(
                "daemon", "serve",
                "pid", ProcessHandle.current().pid(),
                "socket", broker.socketPath().toString(),
                "accepted", c.accepted(),
                "granted", c.granted(),
                "vhostFds", c.vhostFds(),
                "persistent", c.persistent(),
                "refusals", c.refusals(),
                "refused", refused,
                "leases", leases);
    }

    /** A device's counters: per pair, their totals, and the tap's. */
    static Map<String, Object> device(NetDeviceCounters c) {
        List<Object> pairs = new ArrayList<>();
        for (NetDeviceCounters.Pair p : c.pairs()) {
            pairs.add(pair(p));
        }
        return Json.object(
                "backend", c.backend().name(), "pairs", pairs, "totals", pair(c.totals()), "tap", tap(c.tap()));
    }

    private static Map<String, Object> pair(NetDeviceCounters.Pair p) {
        return Json.object(
                "rx", traffic(p.rx()),
                "tx", traffic(p.tx()),
                "guestViolations", p.guestViolations(),
                "refusals", p.refusals(),
                "vringErrors", p.vringErrors());
    }

    private static Map<String, Object> traffic(Optional<NetDeviceCounters.Traffic> t) {
        return t.map(v -> Json.object("packets", v.packets(), "bytes", v.bytes(), "dropped", v.dropped()))
                .orElse(null);
    }

    private static Map<String, Object> tap(Optional<TapStatistics> t) {
        return t.map(s -> Json.object(
                        "rxPackets", s.rxPackets(),
                        "rxBytes", s.rxBytes(),
                        "rxDropped", s.rxDropped(),
                        "rxErrors", s.rxErrors(),
                        "txPackets", s.txPackets(),
                        "txBytes", s.txBytes(),
                        "txDropped", s.txDropped(),
                        "txErrors", s.txErrors()))
                .orElse(null);
    }
}
