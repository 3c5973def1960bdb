/* The compiled parts of the owner's batch decode: tag checks (docs/protocol.md 4.2) over
   OpenSSL's libcrypto, and a reader of feed lines in the devices' own encoding (4.3).

   A plain shared library, no Python API: veil/owner/native.py loads it with ctypes and calls
   it once per batch of records. The few libcrypto prototypes it needs are declared here, so
   building it needs only a C compiler (no OpenSSL or Python headers); the symbols resolve at
   load time against the libcrypto that Python's own hashlib uses, loaded first.

   HMAC-SHA256 is computed from the key's two padded blocks hashed once per batch (the HMAC
   construction of RFC 2104 with its inner and outer states saved), so a record costs the
   compressions of its own bytes and nothing else. */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
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

#define ABI 3
#define KEY 32
#define TAG 16
#define HEAD 12      /* tag bytes from HMAC(C(hidden)) when hidden != 0 */
#define HIDDEN_AT 5  /* the hidden field's offset in the canonical bytes: after "veil" || u8(v) */
#define MAX_CANON 1024

int veil_native_abi(void) { return ABI; }

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

/* ---- Feed lines in the devices' own encoding (protocol 4.3), read into columns. ----

   The form the firmware writes and nothing else: the keys in the order of the definition, no
   whitespace but spaces or tabs around the record and between the tag and the closing brace,
   integers without sign or leading zeros, a value with no exponent and no more decimals than
   its channel's, names without escapes. What it accepts, json.loads reads as the same values
   and check_shape accepts; any other line gets status 2 and is read by msgspec, then by
   veil.feed's parser, so the result never depends on which reader took a line. */

#define MAX_DEV 255
#define MAX_CH 24
enum { PARSED = 0, BLANK = 1, OTHER = 2 };

typedef struct {
    const uint8_t *name;
    int len;
} Name;

typedef struct {
    Name dev;
    int nch;
    Name ch[MAX_CH];
    int dec[MAX_CH];
} Device;

static int spacing(uint8_t c) { return c == ' ' || c == '\t' || c == '\r'; }

static int lit(const uint8_t **p, const uint8_t *end, const char *s) {
    size_t n = strlen(s);
    if ((size_t)(end - *p) < n || memcmp(*p, s, n)) return 0;
    *p += n;
    return 1;
}

/* An unsigned integer without leading zeros, at most `top`. */
static int uint(const uint8_t **p, const uint8_t *end, uint64_t top, uint64_t *out) {
    const uint8_t *q = *p;
    uint64_t x = 0;
    int digits = 0;
    while (q < end && *q >= '0' && *q <= '9') {
        if (++digits > 19) return 0;
        x = x * 10 + (uint64_t)(*q++ - '0');
    }
    if (!digits || (digits > 1 && **p == '0') || x > top) return 0;
    *p = q;
    *out = x;
    return 1;
}

/* A value with at most `dec` decimals and |x| < 2^31: n = x * 10^dec, exactly. */
static int value(const uint8_t **p, const uint8_t *end, int dec, int64_t *n) {
    int neg = *p < end && **p == '-';
    const uint8_t *q = *p + neg;
    uint64_t whole, frac = 0;
    int d = 0;
    if (!uint(&q, end, 2147483647u, &whole)) return 0;
    if (q < end && *q == '.') {
        q++;
        while (q < end && *q >= '0' && *q <= '9') {
            if (++d > dec) return 0;
            frac = frac * 10 + (uint64_t)(*q++ - '0');
        }
        if (!d) return 0;
    }
    if (q < end && (*q == 'e' || *q == 'E')) return 0;
    int64_t x = (int64_t)whole;
    for (int i = 0; i < dec; i++) x *= 10;
    for (int i = d; i < dec; i++) frac *= 10;
    x += (int64_t)frac;
    *n = neg ? -x : x;
    *p = q;
    return 1;
}

static int quoted(const uint8_t **p, const uint8_t *end, Name name) {
    const uint8_t *q = *p;
    if (end - q < name.len + 2 || *q != '"' || memcmp(q + 1, name.name, name.len) ||
        q[name.len + 1] != '"')
        return 0;
    *p = q + name.len + 2;
    return 1;
}

static int hexdigit(uint8_t c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

static int parse_line(const uint8_t *p, const uint8_t *end, const Device *devs, int ndev,
                      int16_t *dev, int64_t *f, int64_t *vals, uint8_t *fit, uint8_t *tag) {
    static const char *keys[] = {",\"ep\":", ",\"boot\":", ",\"seq\":", ",\"trk\":", ",\"ts\":"};
    static const uint64_t tops[] = {4294967295u, 4294967295u, 281474976710655u, 15,
                                    4294967295u};
    uint64_t x;
    while (p < end && spacing(*p)) p++;
    while (end > p && spacing(end[-1])) end--;
    if (p == end) return BLANK;
    if (!lit(&p, end, "{\"v\":") || !uint(&p, end, 2, &x) || x < 1) return OTHER;
    f[0] = (int64_t)x;
    if (!lit(&p, end, ",\"dev\":")) return OTHER;
    int d = 0;
    while (d < ndev && !quoted(&p, end, devs[d].dev)) d++;
    if (d == ndev) return OTHER;
    for (int i = 0; i < 5; i++) {
        if (!lit(&p, end, keys[i]) || !uint(&p, end, tops[i], &x)) return OTHER;
        f[i + 1] = (int64_t)x;
    }
    if (!lit(&p, end, ",\"val\":{")) return OTHER;
    *fit = 1;
    for (int c = 0; c < devs[d].nch; c++) {
        if ((c && !lit(&p, end, ",")) || !quoted(&p, end, devs[d].ch[c]) || !lit(&p, end, ":"))
            return OTHER;
        if (!value(&p, end, devs[d].dec[c], &vals[c])) return OTHER;
        if (vals[c] < -2147483648LL || vals[c] > 2147483647LL) *fit = 0;
    }
    if (!lit(&p, end, "},\"tag\":\"") || end - p < 2 * TAG + 2) return OTHER;
    for (int i = 0; i < TAG; i++) {
        int hi = hexdigit(p[2 * i]), lo = hexdigit(p[2 * i + 1]);
        if (hi < 0 || lo < 0) return OTHER;
        tag[i] = (uint8_t)(hi << 4 | lo);
    }
    p += 2 * TAG;
    if (*p++ != '"') return OTHER;
    while (p < end && (*p == ' ' || *p == '\t')) p++;
    if (p != end - 1 || *p != '}') return OTHER;
    *dev = (int16_t)d;
    return PARSED;
}

/* The devices of `schema`: per device u8 len, name, u8 nch, then per channel u8 len, name,
   u8 dec. Returns how many, or -1 if it does not parse. */
static int read_schema(const uint8_t *s, size_t len, Device *devs) {
    const uint8_t *end = s + len;
    int n = 0;
    while (s < end) {
        if (n == MAX_DEV || end - s < 2) return -1;
        Device *d = &devs[n++];
        d->dev.len = *s++;
        d->dev.name = s;
        s += d->dev.len;
        if (s >= end || (d->nch = *s++) > MAX_CH) return -1;
        for (int c = 0; c < d->nch; c++) {
            if (s >= end) return -1;
            d->ch[c].len = *s++;
            d->ch[c].name = s;
            s += d->ch[c].len;
            if (s >= end) return -1;
            d->dec[c] = *s++;
        }
        if (s > end) return -1;
    }
    return n;
}

/* The devices of a schema in a new array (the caller frees it) and their number in *ndev;
   NULL when it is bad, has a device of more channels than `width`, or no memory is left. */
static Device *load_schema(const uint8_t *schema, size_t schema_len, size_t width, int *ndev) {
    Device *devs = malloc(sizeof(Device) * MAX_DEV);
    int n = devs ? read_schema(schema, schema_len, devs) : -1;
    for (int d = 0; d < n; d++)
        if ((size_t)devs[d].nch > width) n = -1;
    if (n < 0) {
        free(devs);
        return NULL;
    }
    *ndev = n;
    return devs;
}

/* n lines of `buf` (line i at starts[i], lens[i] bytes, newline excluded): status[i] PARSED
   with dev[i] (an index into schema), fields[i*6..] (v, ep, boot, seq, trk, ts),
   values[i*width..] (n of each channel) and fit[i] (every n fits 32 bits), tags[i*16..];
   BLANK for a line of spaces, tabs and CRs; OTHER for anything else. Returns 0, or -1 on a
   bad schema or one with more channels than `width`. */
int veil_parse_lines(const uint8_t *buf, const int64_t *starts, const int64_t *lens, size_t n,
                     const uint8_t *schema, size_t schema_len, size_t width, int8_t *status,
                     int16_t *dev, int64_t *fields, int64_t *values, uint8_t *fit,
                     uint8_t *tags) {
    int ndev;
    Device *devs = load_schema(schema, schema_len, width, &ndev);
    if (!devs) return -1;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = buf + starts[i];
        status[i] = (int8_t)parse_line(p, p + lens[i], devs, ndev, &dev[i], fields + 6 * i,
                                       values + width * i, &fit[i], tags + TAG * i);
    }
    free(devs);
    return 0;
}

/* A store's value texts (`{"name":n,...}` as the platform writes them: compact, the device's
   channels in order; what the C reader above takes of a value, and nothing else), text i at
   starts[i], lens[i] of buf, of device dev[i] (an index into schema; -1: none): status[i]
   PARSED with values[i*width..] and fit[i], else OTHER. Returns 0, or -1 on a bad schema. */
int veil_parse_vals(const uint8_t *buf, const int64_t *starts, const int64_t *lens, size_t n,
                    const uint8_t *schema, size_t schema_len, const int16_t *dev, size_t width,
                    int8_t *status, int64_t *values, uint8_t *fit) {
    int ndev;
    Device *devs = load_schema(schema, schema_len, width, &ndev);
    if (!devs) return -1;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = buf + starts[i], *end = p + lens[i];
        int64_t *v = values + width * i;
        int ok = dev[i] >= 0 && dev[i] < ndev && lit(&p, end, "{");
        const Device *d = ok ? &devs[dev[i]] : NULL;
        fit[i] = 1;
        for (int c = 0; ok && c < d->nch; c++) {
            ok = (!c || lit(&p, end, ",")) && quoted(&p, end, d->ch[c]) && lit(&p, end, ":") &&
                 value(&p, end, d->dec[c], &v[c]);
            if (ok && (v[c] < -2147483648LL || v[c] > 2147483647LL)) fit[i] = 0;
        }
        status[i] = ok && lit(&p, end, "}") && p == end ? PARSED : OTHER;
    }
    free(devs);
    return 0;
}
