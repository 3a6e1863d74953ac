package dev.vhostnet.broker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Optional;
import org.junit.jupiter.api.Test;

class BrokerPolicyTest {
    private final BrokerPolicy policy = BrokerPolicy.builder()
            .allowUid(1000)
            .allowGid(100)
            .tapPrefix("1000=vm1000-")
            .tapPrefix("*=vm-")
            .maxQueues(4)
            .build();

    @Test
    void admitsByUidOrGid() {
        assertEquals(Optional.empty(), policy.checkPeer(1000, 1000));
        assertEquals(Optional.empty(), policy.checkPeer(2000, 100));
        assertTrue(policy.checkPeer(2000, 2000).get().contains("uid 2000 gid 2000 is not allowed"));
    }

    @Test
    void namesFollowTheUidsPrefix() {
        assertEquals(
                Optional.empty(),
                policy.checkRequest(
                        1000, BrokerRequest.builder().name("vm1000-a").build()));
        assertEquals(
                Optional.empty(),
                policy.checkRequest(
                        1000, BrokerRequest.builder().name("vm1000-%d").build()));
        assertTrue(policy.checkRequest(
                        1000, BrokerRequest.builder().name("vm1001-a").build())
                .isPresent());
        assertTrue(policy.checkRequest(
                        1000, BrokerRequest.builder().name("vm1000-").build())
                .isPresent());
        assertTrue(
                policy.checkRequest(1000, BrokerRequest.builder().name("vm-a").build())
                        .isPresent());
        assertEquals(
                Optional.empty(),
                policy.checkRequest(2000, BrokerRequest.builder().name("vm-a").build()));
    }

    @Test
    void limitsQueuesAndPersistence() {
        assertTrue(policy.checkRequest(
                        1000, BrokerRequest.builder().name("vm1000-a").queues(5).build())
                .get()
                .contains("at most 4"));
        assertTrue(policy.checkRequest(
                        1000,
                        BrokerRequest.builder()
                                .name("vm1000-a")
                                .persistent(true)
                                .build())
                .get()
                .contains("--allow-persistent"));
    }

    @Test
    void aUidWithoutPrefixGetsNoTap() {
        BrokerPolicy strict = BrokerPolicy.builder().allowUid(5).build();
        assertTrue(strict.checkRequest(5, BrokerRequest.builder().name("x").build())
                .get()
                .contains("--tap-prefix 5=PREFIX"));
    }

    @Test
    void rejectsPrefixesThatAllowEverythingOrNothing() {
        assertThrows(
                IllegalArgumentException.class, () -> BrokerPolicy.builder().tapPrefix(1, ""));
        assertThrows(
                IllegalArgumentException.class, () -> BrokerPolicy.builder().tapPrefix(1, "fifteen-chars-x"));
        assertThrows(
                IllegalArgumentException.class, () -> BrokerPolicy.builder().tapPrefix(1, "a b"));
        assertThrows(
                IllegalArgumentException.class, () -> BrokerPolicy.builder().tapPrefix("nobody=x"));
    }
}
