// SPDX-License-Identifier: Apache-2.0
// A GetEvents client for bench/run.mjs that costs next to nothing: libnghttp2 (Debian's), h2c with
// prior knowledge, gRPC framing, no decoding. It only counts messages, so the delivery stages
// measure what the agent delivers rather than what a JavaScript client can parse on a 2-core
// machine (a node:http2 counter takes ~2.7 µs of CPU per event; four of them at 100k/s eat a core).
//
//   grpc-count HOST PORT REQUEST_HEX [MARKER]
//
// REQUEST_HEX is the encoded GetEventsRequest. Every 100 ms, and once more when stdin closes (then
// it exits), it prints the same line as count-client.mjs:
//   <events> <kprobe events> <throttle events> <marker hits> <ms>
// The type is read from the message's first tag (the oneof comes first on the wire); MARKER hits
// are kprobe events whose bytes contain MARKER. ms is CLOCK_MONOTONIC.
#define _GNU_SOURCE /* memmem */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define KPROBE_TAG ((9 << 3) | 2)
#define THROTTLE_TAG0 ((((27 << 3) | 2) & 0x7f) | 0x80)
#define THROTTLE_TAG1 (((27 << 3) | 2) >> 7)

static int sock = -1;
static unsigned char *request;
static size_t request_len, request_sent;
static const char *marker;
static size_t marker_len;
static unsigned long long events, kprobes, throttles, marker_hits;

/* The gRPC message being read: its 5-byte prefix, then its payload. */
static unsigned char prefix[5];
static size_t prefix_have;
static size_t payload_len, payload_have;
static unsigned char *payload; /* kept only when a marker is searched for */
static size_t payload_cap;
static unsigned char first_two[2];

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void report(void)
{
	printf("%llu %llu %llu %llu %.3f\n", events, kprobes, throttles, marker_hits, now_ms());
	fflush(stdout);
}

static void message_done(void)
{
	events++;
	if (first_two[0] == KPROBE_TAG) {
		kprobes++;
		if (marker && payload_len >= marker_len && memmem(payload, payload_len, marker, marker_len))
			marker_hits++;
	} else if (first_two[0] == THROTTLE_TAG0 && first_two[1] == THROTTLE_TAG1) {
		throttles++;
	}
}

static void consume(const unsigned char *data, size_t len)
{
	while (len > 0) {
		if (prefix_have < 5) {
			size_t n = 5 - prefix_have < len ? 5 - prefix_have : len;
			memcpy(prefix + prefix_have, data, n);
			prefix_have += n;
			data += n;
			len -= n;
			if (prefix_have < 5)
				return;
			payload_len = (size_t)prefix[1] << 24 | (size_t)prefix[2] << 16 | (size_t)prefix[3] << 8 | prefix[4];
			payload_have = 0;
			if (marker && payload_len > payload_cap) {
				payload_cap = payload_len * 2;
				payload = realloc(payload, payload_cap);
				if (!payload) {
					perror("realloc");
					exit(1);
				}
			}
		}
		size_t n = payload_len - payload_have < len ? payload_len - payload_have : len;
		for (size_t i = 0; i < n && payload_have + i < 2; i++)
			first_two[payload_have + i] = data[i];
		if (marker)
			memcpy(payload + payload_have, data, n);
		payload_have += n;
		data += n;
		len -= n;
		if (payload_have == payload_len) {
			message_done();
			prefix_have = 0;
		}
	}
}

static ssize_t on_send(nghttp2_session *s, const uint8_t *data, size_t len, int flags, void *user)
{
	(void)s;
	(void)flags;
	(void)user;
	ssize_t n = send(sock, data, len, MSG_NOSIGNAL);
	return n < 0 ? NGHTTP2_ERR_CALLBACK_FAILURE : n;
}

static int on_data(nghttp2_session *s, uint8_t flags, int32_t stream, const uint8_t *data, size_t len, void *user)
{
	(void)s;
	(void)flags;
	(void)stream;
	(void)user;
	consume(data, len);
	return 0;
}

static int on_close(nghttp2_session *s, int32_t stream, uint32_t error, void *user)
{
	(void)s;
	(void)stream;
	(void)user;
	report();
	fprintf(stderr, "grpc-count: stream closed (error %u)\n", error);
	exit(error ? 1 : 0);
}

static ssize_t read_request(nghttp2_session *s, int32_t stream, uint8_t *buf, size_t len, uint32_t *flags,
			    nghttp2_data_source *src, void *user)
{
	(void)s;
	(void)stream;
	(void)src;
	(void)user;
	size_t n = request_len - request_sent < len ? request_len - request_sent : len;
	memcpy(buf, request + request_sent, n);
	request_sent += n;
	if (request_sent == request_len)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

static unsigned char *from_hex(const char *hex, size_t *out_len)
{
	size_t n = strlen(hex) / 2;
	unsigned char *out = malloc(5 + n);

	out[0] = 0; /* not compressed */
	out[1] = n >> 24;
	out[2] = n >> 16;
	out[3] = n >> 8;
	out[4] = n;
	for (size_t i = 0; i < n; i++)
		sscanf(hex + 2 * i, "%2hhx", &out[5 + i]);
	*out_len = 5 + n;
	return out;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: %s HOST PORT REQUEST_HEX [MARKER]\n", argv[0]);
		return 2;
	}
	request = from_hex(argv[3], &request_len);
	if (argc > 4 && argv[4][0]) {
		marker = argv[4];
		marker_len = strlen(marker);
	}

	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *ai;
	if (getaddrinfo(argv[1], argv[2], &hints, &ai) != 0) {
		fprintf(stderr, "grpc-count: cannot resolve %s\n", argv[1]);
		return 1;
	}
	sock = socket(ai->ai_family, SOCK_STREAM, 0);
	if (sock < 0 || connect(sock, ai->ai_addr, ai->ai_addrlen) != 0) {
		perror("connect");
		return 1;
	}
	freeaddrinfo(ai);
	int one = 1;
	setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

	nghttp2_session_callbacks *cb;
	nghttp2_session *session;
	nghttp2_session_callbacks_new(&cb);
	nghttp2_session_callbacks_set_send_callback(cb, on_send);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
	nghttp2_session_client_new(&session, cb, NULL);
	/* Windows like grpc-go's once its BDP estimator has grown them: HTTP/2's default 64 KiB
	 * would cap a loopback stream at one window per round trip. */
	nghttp2_settings_entry settings[] = { { NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 16 << 20 } };
	nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, settings, 1);
	nghttp2_session_set_local_window_size(session, NGHTTP2_FLAG_NONE, 0, 64 << 20);

	char authority[300];
	snprintf(authority, sizeof(authority), "%s:%s", argv[1], argv[2]);
#define HDR(n, v) { (uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE }
	nghttp2_nv headers[] = {
		HDR(":method", "POST"),
		HDR(":scheme", "http"),
		HDR(":authority", authority),
		HDR(":path", "/tetragon.FineGuidanceSensors/GetEvents"),
		HDR("content-type", "application/grpc+proto"),
		HDR("te", "trailers"),
	};
	nghttp2_data_provider body = { .read_callback = read_request };
	if (nghttp2_submit_request(session, NULL, headers, sizeof(headers) / sizeof(headers[0]), &body, NULL) < 0) {
		fprintf(stderr, "grpc-count: submit_request failed\n");
		return 1;
	}
	nghttp2_session_send(session);

	static uint8_t buf[1 << 16];
	double next_report = now_ms() + 100;
	for (;;) {
		struct pollfd fds[2] = { { sock, POLLIN, 0 }, { 0, POLLIN, 0 } };
		int timeout = (int)(next_report - now_ms());
		poll(fds, 2, timeout > 0 ? timeout : 0);
		if (fds[1].revents) {
			char c[64];
			if (read(0, c, sizeof(c)) <= 0) {
				report();
				return 0;
			}
		}
		if (fds[0].revents) {
			ssize_t n = recv(sock, buf, sizeof(buf), 0);
			if (n <= 0) {
				report();
				fprintf(stderr, "grpc-count: connection closed\n");
				return 1;
			}
			if (nghttp2_session_mem_recv(session, buf, (size_t)n) < 0) {
				fprintf(stderr, "grpc-count: protocol error\n");
				return 1;
			}
			nghttp2_session_send(session);
		}
		if (now_ms() >= next_report) {
			report();
			next_report += 100;
		}
	}
}
