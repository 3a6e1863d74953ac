package dev.vhostnet.broker;

import com.google.common.base.Preconditions;
import com.google.common.collect.ImmutableMap;
import com.google.common.collect.ImmutableSet;
import dev.vhostnet.sys.TunUapi;
import dev.vhostnet.tap.TapConfig;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Who may ask the broker for what. A peer ({@code SO_PEERCRED}) is admitted when its uid is in
 * {@link #allowedUids()} or its (primary) gid in {@link #allowedGids()}; it then may only have taps
 * whose name starts with the prefix of its uid ({@code uid 1000 -> "vm1000-"}), or the default prefix
 * where its uid has none, and at most {@link #maxQueues()} queues. A peer with no prefix gets no tap.
 * Persistent taps only when {@link #allowPersistent()}. Immutable.
 */
public final class BrokerPolicy {
    /** Queues a client may ask for unless the policy says otherwise. */
    public static final int DEFAULT_MAX_QUEUES = 8;

    private final ImmutableSet<Integer> allowedUids;
    private final ImmutableSet<Integer> allowedGids;
    private final ImmutableMap<Integer, String> prefixByUid;
    private final Optional<String> defaultPrefix;
    private final int maxQueues;
    private final boolean allowPersistent;

    private BrokerPolicy(Builder b) {
        this.allowedUids = ImmutableSet.copyOf(b.allowedUids);
        this.allowedGids = ImmutableSet.copyOf(b.allowedGids);
        this.prefixByUid = ImmutableMap.copyOf(b.prefixByUid);
        this.defaultPrefix = b.defaultPrefix;
        this.maxQueues = b.maxQueues;
        this.allowPersistent = b.allowPersistent;
    }

    public static Builder builder() {
        return new Builder();
    }

    public ImmutableSet<Integer> allowedUids() {
        return allowedUids;
    }

    public ImmutableSet<Integer> allowedGids() {
        return allowedGids;
    }

    public ImmutableMap<Integer, String> prefixByUid() {
        return prefixByUid;
    }

    public Optional<String> defaultPrefix() {
        return defaultPrefix;
    }

    public int maxQueues() {
        return maxQueues;
    }

    public boolean allowPersistent() {
        return allowPersistent;
    }

    /** The name prefix this uid's taps must have, if it may have any. */
    public Optional<String> prefixFor(long uid) {
        String own = uid >= 0 && uid <= Integer.MAX_VALUE ? prefixByUid.get((int) uid) : null;
        return own != null ? Optional.of(own) : defaultPrefix;
    }

    /** Why a peer with these credentials is not served, or empty when it is admitted. */
    public Optional<String> checkPeer(long uid, long gid) {
        if (allowedUids.contains((int) uid) || allowedGids.contains((int) gid)) {
            return Optional.empty();
        }
        return Optional.of("uid " + uid + " gid " + gid + " is not allowed: the broker serves uids " + allowedUids
                + " and gids " + allowedGids + " (--allow-uid, --allow-gid)");
    }

    /** Why this admitted uid may not have this request, or empty when it may. */
    public Optional<String> checkRequest(long uid, BrokerRequest request) {
        Optional<String> prefix = prefixFor(uid);
        if (prefix.isEmpty()) {
            return Optional.of(
                    "uid " + uid + " has no tap name prefix: the broker needs --tap-prefix " + uid + "=PREFIX");
        }
        String name = request.name();
        if (!name.startsWith(prefix.get()) || name.length() == prefix.get().length()) {
            return Optional.of("tap name '" + name + "' is not allowed for uid " + uid + ": it must be '" + prefix.get()
                    + "' followed by a name or %d");
        }
        if (request.queues() > maxQueues) {
            return Optional.of(request.queues() + " queues asked, the broker allows at most " + maxQueues);
        }
        if (request.persistent() && !allowPersistent) {
            return Optional.of("persistent taps are not allowed by this broker (--allow-persistent)");
        }
        return Optional.empty();
    }

    @Override
    public String toString() {
        return "BrokerPolicy[uids " + allowedUids + ", gids " + allowedGids + ", prefixes " + prefixByUid
                + defaultPrefix.map(p -> ", default prefix " + p).orElse("") + ", max queues " + maxQueues
                + (allowPersistent ? ", persistent allowed" : "") + "]";
    }

    /** Collects the policy; {@link #build()} checks the prefixes can start a tap name. */
    public static final class Builder {
        private final Set<Integer> allowedUids = new LinkedHashSet<>();
        private final Set<Integer> allowedGids = new LinkedHashSet<>();
        private final Map<Integer, String> prefixByUid = new LinkedHashMap<>();
        private Optional<String> defaultPrefix = Optional.empty();
        private int maxQueues = DEFAULT_MAX_QUEUES;
        private boolean allowPersistent;

        private Builder() {}

        public Builder allowUid(int uid) {
            Preconditions.checkArgument(uid >= 0, "uid must be 0 or more, not %s", uid);
            allowedUids.add(uid);
            return this;
        }

        public Builder allowGid(int gid) {
            Preconditions.checkArgument(gid >= 0, "gid must be 0 or more, not %s", gid);
            allowedGids.add(gid);
            return this;
        }

        /** Taps of {@code uid} must be named {@code prefix...}. */
        public Builder tapPrefix(int uid, String prefix) {
            checkPrefix(prefix);
            prefixByUid.put(uid, prefix);
            return this;
        }

        /** The prefix for admitted uids without one of their own (none by default: such uids get no tap). */
        public Builder defaultTapPrefix(String prefix) {
            checkPrefix(prefix);
            defaultPrefix = Optional.of(prefix);
            return this;
        }

        /**
         * A rule as the command line gives it: {@code UID=PREFIX}, or {@code *=PREFIX} for the
         * default prefix.
         */
        public Builder tapPrefix(String rule) {
            int eq = rule.indexOf('=');
            Preconditions.checkArgument(eq > 0, "tap prefix rule '%s' is not UID=PREFIX (or *=PREFIX)", rule);
            String who = rule.substring(0, eq);
            String prefix = rule.substring(eq + 1);
            if (who.equals("*")) {
                return defaultTapPrefix(prefix);
            }
            try {
                return tapPrefix(Integer.parseInt(who), prefix);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("tap prefix rule '" + rule + "': '" + who + "' is not a uid", e);
            }
        }

        public Builder maxQueues(int maxQueues) {
            Preconditions.checkArgument(
                    maxQueues >= 1 && maxQueues <= TapConfig.MAX_QUEUES,
                    "max queues must be 1 to %s, not %s",
                    TapConfig.MAX_QUEUES,
                    maxQueues);
            this.maxQueues = maxQueues;
            return this;
        }

        public Builder allowPersistent(boolean allow) {
            this.allowPersistent = allow;
            return this;
        }

        public BrokerPolicy build() {
            return new BrokerPolicy(this);
        }

        private static void checkPrefix(String prefix) {
            Preconditions.checkNotNull(prefix, "prefix");
            Preconditions.checkArgument(
                    !prefix.isEmpty(), "an empty tap prefix would allow every name: give one such as vm1000-");
            Preconditions.checkArgument(
                    prefix.getBytes(StandardCharsets.UTF_8).length < TunUapi.IFNAMSIZ - 1,
                    "tap prefix '%s' leaves no room for a name: interface names have at most %s bytes",
                    prefix,
                    TunUapi.IFNAMSIZ - 1);
            Preconditions.checkArgument(prefix.indexOf('%') < 0, "tap prefix '%s' must not contain '%%'", prefix);
            // The tap module's name rules, on the prefix followed by one character.
            TapConfig.builder().name(prefix + "x").build();
        }
    }
}
