/* Batch tag checks for the owner's decode (docs/protocol.md 4.2) over OpenSSL's libcrypto.

   A plain shared library, no Python API: veil/owner/tagcheck.py loads it with ctypes and calls
   it once per batch of records. The few libcrypto prototypes it needs are declared here, so
   building it needs only a C compiler (no OpenSSL or Python headers); the symbols resolve at
   load time against the libcrypto that Python's own hashlib uses, loaded first.

   HMAC-SHA256 is computed from the key's two padded blocks hashed once per batch (the HMAC
   construction of RFC 2104 with its inner and outer states saved), so a record costs the
   compressions of its own bytes and nothing else. */

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* OpenSSL's SHA256_CTX (openssl/sha.h), unchanged since 0.9.8. */
typedef struct {
    uint32_t h[8], Nl, Nh, data[16];
    unsigned int num, md_len;
} SHA256_CTX;
int SHA256_Init(SHA256_CTX *c);
int SHA256_Update(SHA256_CTX *c, const void *data, size_t len);
int SHA256_Final(unsigned char *md, SHA256_CTX *c);

/* OpenSSL's HMAC API, for the reference loop only. */
typedef struct hmac_ctx_st HMAC_CTX;
typedef struct evp_md_st EVP_MD;
HMAC_CTX *HMAC_CTX_new(void);
void HMAC_CTX_free(HMAC_CTX *ctx);
const EVP_MD *EVP_sha256(void);
int HMAC_Init_ex(HMAC_CTX *ctx, const void *key, int len, const EVP_MD *md, void *impl);
int HMAC_Update(HMAC_CTX *ctx, const unsigned char *data, size_t len);
int HMAC_Final(HMAC_CTX *ctx, unsigned char *md, unsigned int *len);

#define ABI 1
#define KEY 32
#define TAG 16
#define HEAD 12      /* tag bytes from HMAC(C(hidden)) when hidden != 0 */
#define HIDDEN_AT 5  /* the hidden field's offset in the canonical bytes: after "veil" || u8(v) */
#define MAX_CANON 1024

int veil_tagcheck_abi(void) { return ABI; }

typedef struct {
    SHA256_CTX inner, outer;
} Pads;

static void pads(const uint8_t key[KEY], Pads *p) {
    uint8_t block[64];
    for (int i = 0; i < 64; i++) block[i] = (i < KEY ? key[i] : 0) ^ 0x36;
    SHA256_Init(&p->inner);
    SHA256_Update(&p->inner, block, 64);
    for (int i = 0; i < 64; i++) block[i] = (i < KEY ? key[i] : 0) ^ 0x5c;
    SHA256_Init(&p->outer);
    SHA256_Update(&p->outer, block, 64);
}

static void hmac(const Pads *p, const uint8_t *msg, size_t len, uint8_t out[32]) {
    SHA256_CTX c = p->inner;
    SHA256_Update(&c, msg, len);
    SHA256_Final(out, &c);
    c = p->outer;
    SHA256_Update(&c, out, 32);
    SHA256_Final(out, &c);
}

static int same(const uint8_t *a, const uint8_t *b, size_t n) {
    uint8_t diff = 0;
    for (size_t i = 0; i < n; i++) diff |= a[i] ^ b[i];
    return diff == 0;
}

static uint32_t be32(const uint8_t *b) {
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* n records, each its canonical bytes C(0) (`len` bytes, records back to back), its 16-byte
   tag and whether its track is real (key_real) or fake (key_fake). Sets ok[i] to 1 and
   hidden[i] to the recovered hidden field when record i's tag verifies, ok[i] to 0 when not.
   Returns 0, or -1 when `len` is out of range (nothing is checked then). */
int veil_check_tags(const uint8_t *canon, size_t len, size_t n, const uint8_t *tags,
                    const uint8_t *real, const uint8_t key_real[KEY],
                    const uint8_t key_fake[KEY], uint8_t *ok, uint32_t *hidden) {
    Pads keys[2];
    uint8_t h0[32], h[32], msg[MAX_CANON];
    if (len < HIDDEN_AT + 4 || len > MAX_CANON) return -1;
    pads(key_fake, &keys[0]);
    pads(key_real, &keys[1]);
    for (size_t i = 0; i < n; i++) {
        const uint8_t *c = canon + i * len, *tag = tags + i * TAG;
        const Pads *key = &keys[real[i] != 0];
        hmac(key, c, len, h0);
        if (same(h0, tag, TAG)) {
            ok[i] = 1;
            hidden[i] = 0;
            continue;
        }
        uint32_t x = be32(h0 + HEAD) ^ be32(tag + HEAD);
        memcpy(msg, c, len);
        msg[HIDDEN_AT] = x >> 24;
        msg[HIDDEN_AT + 1] = x >> 16;
        msg[HIDDEN_AT + 2] = x >> 8;
        msg[HIDDEN_AT + 3] = x;
        hmac(key, msg, len, h);
        ok[i] = same(h, tag, HEAD);
        hidden[i] = ok[i] ? x : 0;
    }
    return 0;
}

/* OpenSSL's own HMAC-SHA256 over n messages of `len` bytes, the key set once: the rate the
   decode benchmark measures veil against. Writes each tag's first 16 bytes to out. */
int veil_hmac_loop(const uint8_t key[KEY], const uint8_t *msgs, size_t len, size_t n,
                   uint8_t *out) {
    uint8_t md[32];
    unsigned int mdlen;
    HMAC_CTX *ctx = HMAC_CTX_new();
    if (!ctx || !HMAC_Init_ex(ctx, key, KEY, EVP_sha256(), NULL)) {
        HMAC_CTX_free(ctx);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        HMAC_Init_ex(ctx, NULL, 0, NULL, NULL);
        HMAC_Update(ctx, msgs + i * len, len);
        HMAC_Final(ctx, md, &mdlen);
        memcpy(out + i * TAG, md, TAG);
    }
    HMAC_CTX_free(ctx);
    return 0;
}
