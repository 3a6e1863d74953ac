/*
 * guest-net: the nested guest's traffic check, run by guest-init over the NIC the Java microVM
 * gives it. Sends BYTES of a known pattern to PEER:PORT over UDP, in datagrams of an 8-byte
 * stream offset and up to 1400 bytes of pattern, WINDOW at a time; the peer (MicroVmNetTest, in a
 * namespace behind the tap) checks each and sends it back; this side checks every echo byte-exact.
 * Blocking calls only, no timeouts: a guest whose timers stall under nested TCG still moves packets
 * (its NIC's interrupts are the device's), and a lost datagram shows as the host test's bound.
 * Built static by build-image.sh: the initramfs has no libc.
 *
 * usage: guest-net PEER PORT BYTES
 * prints: "vhostnet-guest: udp BYTES bytes echoed byte-exact" and exits 0, or the first mismatch and 1.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CHUNK 1400
#define HEADER 8
#define WINDOW 8

/* The pattern byte at stream offset i; MicroVmNetTest.pattern computes the same. */
static uint8_t pattern(uint64_t i)
{
	return (uint8_t)(((uint32_t)i * 2654435761u) >> 24);
}

static void put_offset(uint8_t *d, uint64_t offset)
{
	for (int i = 0; i < HEADER; i++)
		d[i] = (uint8_t)(offset >> (56 - 8 * i));
}

static uint64_t get_offset(const uint8_t *d)
{
	uint64_t offset = 0;
	for (int i = 0; i < HEADER; i++)
		offset = offset << 8 | d[i];
	return offset;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: guest-net PEER PORT BYTES\n");
		return 2;
	}
	struct sockaddr_in peer = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[2])) };
	if (inet_pton(AF_INET, argv[1], &peer.sin_addr) != 1) {
		fprintf(stderr, "vhostnet-guest: bad peer address %s\n", argv[1]);
		return 2;
	}
	uint64_t total = strtoull(argv[3], NULL, 10);
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&peer, sizeof(peer)) < 0) {
		perror("vhostnet-guest: udp socket");
		return 1;
	}
	uint8_t out[HEADER + CHUNK], in[HEADER + CHUNK + 1];
	uint64_t sent = 0, echoed = 0;
	while (sent < total) {
		int window = 0;
		for (; window < WINDOW && sent < total; window++) {
			size_t n = total - sent < CHUNK ? (size_t)(total - sent) : CHUNK;
			put_offset(out, sent);
			for (size_t i = 0; i < n; i++)
				out[HEADER + i] = pattern(sent + i);
			if (send(s, out, HEADER + n, 0) != (ssize_t)(HEADER + n)) {
				perror("vhostnet-guest: udp send");
				return 1;
			}
			sent += n;
		}
		for (; window > 0; window--) {
			ssize_t got = recv(s, in, sizeof(in), 0);
			if (got < HEADER) {
				perror("vhostnet-guest: udp recv");
				return 1;
			}
			uint64_t offset = get_offset(in);
			for (ssize_t i = HEADER; i < got; i++) {
				if (in[i] != pattern(offset + i - HEADER)) {
					printf("vhostnet-guest: udp MISMATCH at offset %llu\n",
					       (unsigned long long)(offset + i - HEADER));
					return 1;
				}
			}
			echoed += got - HEADER;
		}
	}
	if (echoed != total) {
		printf("vhostnet-guest: udp echoed %llu of %llu bytes\n", (unsigned long long)echoed,
		       (unsigned long long)total);
		return 1;
	}
	printf("vhostnet-guest: udp %llu bytes echoed byte-exact\n", (unsigned long long)total);
	return 0;
}
