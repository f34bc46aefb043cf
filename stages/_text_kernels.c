/* The per-document loops of the quality stages that numpy cannot express without a Python call per
 * item or a sort, or that cost more in a dozen numpy passes than in one pass here: token lengths,
 * Gopher's n-gram repetition counts, character entropy, the spam model's token line, phrase
 * matching, menu lines, sentence ends and sentence lines, Gopher's bullet and ellipsis lines, and
 * candidate code lines. tests/test_text_kernels.py holds each to a Python reference.
 *
 * Repetition: words arrive as two int64 arrays, a hash per word (equal words, equal hashes) and
 * its length in characters. An n-gram is identified by a polynomial hash of its word hashes, so
 * the counts equal datatrove's on the joined n-gram strings unless two different n-grams' 64-bit
 * hashes collide. The work is a hash-table pass per n: numpy needed a sort (np.unique) per n,
 * which made these counts half of the quality suite's cost.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#include <stdlib.h>
#include <math.h>

/* One open-addressing table, reused by every call: an entry belongs to the current call only when
 * its stamp equals the call's epoch, so nothing is cleared or allocated per call. Calls hold the
 * GIL throughout, so they never overlap. */
typedef struct {
    uint64_t key;
    int64_t count;
    int64_t first; /* position of the first occurrence */
    uint64_t stamp;
} Entry;

static Entry *table;
static uint64_t table_mask;
static uint64_t epoch;

/* Make the table ready for a call with up to `items` keys. */
static int table_begin(Py_ssize_t items) {
    uint64_t size = 1024;
    while (size < (uint64_t)items * 2) size <<= 1;
    if (!table || size > table_mask + 1) {
        Entry *grown = PyMem_Calloc(size, sizeof(Entry));
        if (!grown) { PyErr_NoMemory(); return -1; }
        PyMem_Free(table);
        table = grown;
        table_mask = size - 1;
        epoch = 0;
    }
    epoch++;
    return 0;
}

/* The entry of key in this call: found, or new (count 0, first unset). */
static Entry *table_entry(uint64_t key, int *found) {
    uint64_t slot = (key * 0x9E3779B97F4A7C15ULL) >> 20 & table_mask;
    while (table[slot].stamp == epoch) {
        if (table[slot].key == key) { *found = 1; return &table[slot]; }
        slot = (slot + 1) & table_mask;
    }
    Entry *entry = &table[slot];
    entry->stamp = epoch;
    entry->key = key;
    entry->count = 0;
    *found = 0;
    return entry;
}

static uint64_t gram_hash(const int64_t *hashes, Py_ssize_t start, Py_ssize_t n) {
    uint64_t h = 0;
    for (Py_ssize_t k = 0; k < n; k++) h = h * 1000003ULL + (uint64_t)hashes[start + k];
    return h;
}

static int64_t gram_chars(const int64_t *lengths, Py_ssize_t start, Py_ssize_t n) {
    int64_t chars = 0;
    for (Py_ssize_t k = 0; k < n; k++) chars += lengths[start + k];
    return chars;
}

/* Count the n-grams starting at the positions marked in `candidates` (all others occur once in
 * the document, so they cannot repeat); then mark in `candidates` the positions whose n-gram
 * occurs at least twice, which are the only places a longer n-gram can repeat. The best count
 * (ties: first occurrence first, as Counter.most_common) goes to *best, its position to *best_first. */
static int count_ngrams(const int64_t *hashes, Py_ssize_t grams, Py_ssize_t n, uint8_t *candidates,
                        Entry **slots, int64_t *best, int64_t *best_first) {
    Py_ssize_t marked = 0;
    for (Py_ssize_t i = 0; i < grams; i++) marked += candidates[i];
    if (table_begin(marked) < 0) return -1;
    *best = 0;
    *best_first = 0;
    for (Py_ssize_t i = 0; i < grams; i++) {
        if (!candidates[i]) continue;
        int found;
        Entry *entry = table_entry(gram_hash(hashes, i, n), &found);
        if (!found) entry->first = i;
        int64_t count = ++entry->count;
        if (count > *best || (count == *best && entry->first < *best_first)) {
            *best = count;
            *best_first = entry->first;
        }
        slots[i] = entry;
    }
    for (Py_ssize_t i = 0; i < grams; i++) candidates[i] = candidates[i] && slots[i]->count >= 2;
    return 0;
}

/* datatrove's find_all_duplicate: scanning left to right, characters of n-grams seen earlier, jumping
 * past each repeat. Only positions in `repeats` (n-grams occurring twice or more) touch the table:
 * an n-gram occurring once can be neither found nor found later. */
static int duplicate_chars(const int64_t *hashes, const int64_t *lengths, Py_ssize_t grams, Py_ssize_t n,
                           const uint8_t *repeats, int64_t *chars) {
    Py_ssize_t marked = 0;
    for (Py_ssize_t i = 0; i < grams; i++) marked += repeats[i];
    if (table_begin(marked) < 0) return -1;
    *chars = 0;
    Py_ssize_t i = 0;
    while (i < grams) {
        if (!repeats[i]) { i += 1; continue; }
        int found;
        table_entry(gram_hash(hashes, i, n), &found);
        if (found) {
            *chars += gram_chars(lengths, i, n);
            i += n;
        } else {
            i += 1;
        }
    }
    return 0;
}

/* Sizes from a sequence of ints >= 1, ascending; NULL on error. */
static PyObject *parse_sizes(PyObject *sizes, const char *name) {
    PyObject *fast = PySequence_Fast(sizes, "sizes must be a sequence of ints");
    if (!fast) return NULL;
    Py_ssize_t previous = 0;
    for (Py_ssize_t k = 0; k < PySequence_Fast_GET_SIZE(fast); k++) {
        Py_ssize_t n = PyLong_AsSsize_t(PySequence_Fast_GET_ITEM(fast, k));
        if (n == -1 && PyErr_Occurred()) { Py_DECREF(fast); return NULL; }
        if (n <= previous) {
            PyErr_Format(PyExc_ValueError, "%s must be ascending sizes of at least 1", name);
            Py_DECREF(fast);
            return NULL;
        }
        previous = n;
    }
    return fast;
}

PyDoc_STRVAR(repetition_doc,
"repetition_chars(hashes, lengths, top_sizes, dup_sizes) -> tuple[list[int], list[int]]\n\n"
"For each n in top_sizes: characters covered by the most frequent n-gram (its characters times its\n"
"count; 0 when no n-gram repeats; among equally frequent n-grams the first seen wins, as\n"
"Counter.most_common). For each n in dup_sizes: characters of n-grams that repeat an earlier one,\n"
"scanning left to right and jumping past each repeat (datatrove's find_all_duplicate). hashes and\n"
"lengths are int64 arrays, one entry per word. Sizes are ascending; every size of either list is\n"
"counted in one ascending sweep, each size examining only where the shorter n-grams repeat.");

static PyObject *repetition_chars(PyObject *self, PyObject *args) {
    Py_buffer hb, lb;
    PyObject *top_arg, *dup_arg;
    if (!PyArg_ParseTuple(args, "y*y*OO", &hb, &lb, &top_arg, &dup_arg)) return NULL;
    PyObject *top_sizes = NULL, *dup_sizes = NULL, *top = NULL, *dup = NULL, *result = NULL;
    uint8_t *candidates = NULL;
    Entry **slots = NULL;
    if (hb.len % 8 || hb.len != lb.len) {
        PyErr_SetString(PyExc_ValueError, "hashes and lengths must be int64 arrays of one length");
        goto done;
    }
    if (!(top_sizes = parse_sizes(top_arg, "top_sizes")) || !(dup_sizes = parse_sizes(dup_arg, "dup_sizes"))) goto done;
    const int64_t *hashes = hb.buf, *lengths = lb.buf;
    Py_ssize_t words = hb.len / 8;
    Py_ssize_t top_count = PySequence_Fast_GET_SIZE(top_sizes), dup_count = PySequence_Fast_GET_SIZE(dup_sizes);
    top = PyList_New(top_count);
    dup = PyList_New(dup_count);
    candidates = PyMem_Malloc(words + 1);
    slots = PyMem_Malloc((words + 1) * sizeof(Entry *));
    if (!top || !dup || !candidates || !slots) { PyErr_NoMemory(); goto done; }
    memset(candidates, 1, words + 1);
    /* Merge the two ascending lists into one ascending sweep over sizes. */
    Py_ssize_t t = 0, d = 0;
    while (t < top_count || d < dup_count) {
        Py_ssize_t top_n = t < top_count ? PyLong_AsSsize_t(PySequence_Fast_GET_ITEM(top_sizes, t)) : PY_SSIZE_T_MAX;
        Py_ssize_t dup_n = d < dup_count ? PyLong_AsSsize_t(PySequence_Fast_GET_ITEM(dup_sizes, d)) : PY_SSIZE_T_MAX;
        Py_ssize_t n = top_n < dup_n ? top_n : dup_n;
        Py_ssize_t grams = words >= n ? words - n + 1 : 0;
        int64_t best = 0, best_first = 0, chars = 0;
        if (grams && count_ngrams(hashes, grams, n, candidates, slots, &best, &best_first) < 0) goto done;
        if (n == top_n) {
            PyObject *value = PyLong_FromLongLong(best >= 2 ? gram_chars(lengths, best_first, n) * best : 0);
            if (!value) goto done;
            PyList_SET_ITEM(top, t++, value);
        }
        if (n == dup_n) {
            if (grams && duplicate_chars(hashes, lengths, grams, n, candidates, &chars) < 0) goto done;
            PyObject *value = PyLong_FromLongLong(chars);
            if (!value) goto done;
            PyList_SET_ITEM(dup, d++, value);
        }
    }
    result = PyTuple_Pack(2, top, dup);
done:
    Py_XDECREF(top_sizes);
    Py_XDECREF(dup_sizes);
    Py_XDECREF(top);
    Py_XDECREF(dup);
    PyMem_Free(candidates);
    PyMem_Free(slots);
    PyBuffer_Release(&hb);
    PyBuffer_Release(&lb);
    return result;
}

PyDoc_STRVAR(token_lengths_doc,
"token_lengths(tokens: list[str]) -> bytes\n\n"
"The length of each string, as native int64 values (numpy.frombuffer(..., dtype=numpy.int64)).\n"
"~3 ns per token, where numpy.fromiter(map(len, tokens)) takes ~30 ns.");

static PyObject *token_lengths(PyObject *self, PyObject *tokens) {
    if (!PyList_Check(tokens)) {
        PyErr_SetString(PyExc_TypeError, "tokens must be a list of str");
        return NULL;
    }
    Py_ssize_t count = PyList_GET_SIZE(tokens);
    PyObject *result = PyBytes_FromStringAndSize(NULL, count * (Py_ssize_t)sizeof(int64_t));
    if (!result) return NULL;
    int64_t *lengths = (int64_t *)PyBytes_AS_STRING(result);
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *token = PyList_GET_ITEM(tokens, i);
        if (!PyUnicode_Check(token)) {
            Py_DECREF(result);
            PyErr_Format(PyExc_TypeError, "tokens[%zd] is %.100s, not str", i, Py_TYPE(token)->tp_name);
            return NULL;
        }
        lengths[i] = PyUnicode_GET_LENGTH(token);
    }
    return result;
}

PyDoc_STRVAR(char_entropy_doc,
"char_entropy(codepoints: buffer of uint32) -> tuple[int, float]\n\n"
"The number of distinct code points and the Shannon entropy (bits) of their distribution, in one\n"
"pass over a count table (numpy needed a sort: ~25-40 us for 5,000 characters, here ~5 us).");

/* Counts per code point, zero between calls: a call counts into it and sets back only what it touched. */
static uint32_t *char_counts;

static PyObject *char_entropy(PyObject *self, PyObject *arg) {
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    if (view.len % 4) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "codepoints must be uint32 values");
        return NULL;
    }
    if (!char_counts && !(char_counts = calloc(0x110001, sizeof(uint32_t)))) {
        PyBuffer_Release(&view);
        return PyErr_NoMemory();
    }
    const uint32_t *codes = (const uint32_t *)view.buf;
    Py_ssize_t n = view.len / 4;
    uint32_t *seen = malloc((n ? n : 1) * sizeof(uint32_t));
    if (!seen) {
        PyBuffer_Release(&view);
        return PyErr_NoMemory();
    }
    Py_ssize_t distinct = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        uint32_t code = codes[i] > 0x110000 ? 0x110000 : codes[i];
        if (char_counts[code]++ == 0) seen[distinct++] = code;
    }
    double entropy = 0.0;
    for (Py_ssize_t i = 0; i < distinct; i++) {
        double share = (double)char_counts[seen[i]] / (double)n;
        entropy -= share * log2(share);
        char_counts[seen[i]] = 0;
    }
    free(seen);
    PyBuffer_Release(&view);
    return Py_BuildValue("(nd)", distinct, entropy == 0.0 ? 0.0 : entropy);
}

PyDoc_STRVAR(spaced_tokens_doc,
"spaced_tokens(text: str) -> str\n\n"
"The tokens of text joined by single spaces: each run of ASCII digits and lower-case letters and\n"
"full-width digits and lower-case letters is one token, every other character that is not\n"
"whitespace is a token of its own (what the spam model reads, stages/spam_model.py).");

static int latin_run_char(Py_UCS4 c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 0xFF10 && c <= 0xFF19) || (c >= 0xFF41 && c <= 0xFF5A);
}

static PyObject *spaced_tokens(PyObject *self, PyObject *text) {
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "text must be str");
        return NULL;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_UCS4 *out = PyMem_Malloc((2 * n + 1) * sizeof(Py_UCS4));
    if (!out) return PyErr_NoMemory();
    Py_ssize_t length = 0;
    int in_run = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (Py_UNICODE_ISSPACE(c)) {
            in_run = 0;
            continue;
        }
        int run = latin_run_char(c);
        if (!(run && in_run) && length) out[length++] = ' ';
        out[length++] = c;
        in_run = run;
    }
    PyObject *result = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, out, length);
    PyMem_Free(out);
    return result;
}

PyDoc_STRVAR(navigation_lines_doc,
"navigation_lines(codepoints, separator, han, terminal, max_item_chars: int) -> bytes\n\n"
"Per line (lines end at code point 10), whether it reads as a menu: not ``terminal``, 2+\n"
"separators, 3+ items (runs of non-separator characters), none longer than ``max_item_chars``,\n"
"at least half of them with a Han character. ``codepoints`` is uint32, ``separator`` and ``han``\n"
"one byte per code point, ``terminal`` one byte per line; the result is one byte per line\n"
"(stages/c4_lines.py says why; numpy needed a dozen passes over the page).");

static PyObject *navigation_lines(PyObject *self, PyObject *args) {
    PyObject *codes_obj, *sep_obj, *han_obj, *term_obj;
    Py_ssize_t max_item;
    if (!PyArg_ParseTuple(args, "OOOOn", &codes_obj, &sep_obj, &han_obj, &term_obj, &max_item)) return NULL;
    Py_buffer cb, sb, hb2, tb;
    if (PyObject_GetBuffer(codes_obj, &cb, PyBUF_SIMPLE) < 0) return NULL;
    if (PyObject_GetBuffer(sep_obj, &sb, PyBUF_SIMPLE) < 0) { PyBuffer_Release(&cb); return NULL; }
    if (PyObject_GetBuffer(han_obj, &hb2, PyBUF_SIMPLE) < 0) { PyBuffer_Release(&cb); PyBuffer_Release(&sb); return NULL; }
    if (PyObject_GetBuffer(term_obj, &tb, PyBUF_SIMPLE) < 0) { PyBuffer_Release(&cb); PyBuffer_Release(&sb); PyBuffer_Release(&hb2); return NULL; }
    PyObject *result = NULL;
    Py_ssize_t n = cb.len / 4;
    const uint32_t *codes = (const uint32_t *)cb.buf;
    const uint8_t *sep = (const uint8_t *)sb.buf, *han = (const uint8_t *)hb2.buf, *term = (const uint8_t *)tb.buf;
    Py_ssize_t lines = 1;
    for (Py_ssize_t i = 0; i < n; i++) lines += codes[i] == 10;
    if (cb.len % 4 || sb.len != n || hb2.len != n || tb.len != lines) {
        PyErr_SetString(PyExc_ValueError, "navigation_lines: separator and han need one byte per code point, terminal one per line");
        goto done;
    }
    result = PyBytes_FromStringAndSize(NULL, lines);
    if (!result) goto done;
    uint8_t *out = (uint8_t *)PyBytes_AS_STRING(result);
    Py_ssize_t line = 0, seps = 0, items = 0, long_items = 0, han_items = 0, item = 0;
    int item_han = 0;
    for (Py_ssize_t i = 0; i <= n; i++) {
        int end_of_line = i == n || codes[i] == 10;
        if (end_of_line || sep[i]) {
            if (item) {
                items++;
                long_items += item > max_item;
                han_items += item_han;
            }
            item = 0;
            item_han = 0;
            if (!end_of_line) {
                seps++;
                continue;
            }
            out[line] = !term[line] && seps >= 2 && items >= 3 && long_items == 0 && 2 * han_items >= items;
            line++;
            seps = items = long_items = han_items = 0;
            continue;
        }
        item++;
        item_han |= han[i] != 0;
    }
done:
    PyBuffer_Release(&cb);
    PyBuffer_Release(&sb);
    PyBuffer_Release(&hb2);
    PyBuffer_Release(&tb);
    return result;
}

PyDoc_STRVAR(phrase_find_doc,
"phrase_find(text, lower, blocks, pair_keys, offsets, lengths, codes, singles) -> bytes\n\n"
"Every occurrence of the phrases of a stages.phrase_matcher.PhraseMatcher in text, ignoring case,\n"
"as native int64 pairs (start, phrase number), by start. lower: uint32 lower case of every BMP\n"
"code point; blocks: one byte per slot of the matcher's block table; pair_keys: the first two\n"
"code points of each phrase of two or more (first << 32 | second), sorted; offsets, lengths: each\n"
"such phrase's place in codes (uint32, lower case); singles: the one-character phrases (uint32,\n"
"sorted), numbered after the others. Lower case is one code point for one, as\n"
"phrase_matcher._lower_chars has it (past the BMP through str.lower, character by character).");

static Py_ssize_t lower_bound_u64(const uint64_t *values, Py_ssize_t count, uint64_t key) {
    Py_ssize_t low = 0, high = count;
    while (low < high) {
        Py_ssize_t middle = (low + high) / 2;
        if (values[middle] < key) low = middle + 1; else high = middle;
    }
    return low;
}

static PyObject *phrase_find(PyObject *self, PyObject *args) {
    PyObject *text, *objs[7];
    if (!PyArg_ParseTuple(args, "UOOOOOOO", &text, &objs[0], &objs[1], &objs[2], &objs[3], &objs[4], &objs[5], &objs[6])) return NULL;
    Py_buffer views[7];
    int held = 0;
    PyObject *result = NULL;
    uint32_t *lowered = NULL;
    int64_t *found = NULL;
    for (; held < 7; held++)
        if (PyObject_GetBuffer(objs[held], &views[held], PyBUF_SIMPLE) < 0) goto done;
    const uint32_t *lower = views[0].buf;
    const uint8_t *blocks = views[1].buf;
    const uint64_t *pair_keys = views[2].buf;
    const int64_t *offsets = views[3].buf, *lengths = views[4].buf;
    const uint32_t *codes = views[5].buf, *singles = views[6].buf;
    Py_ssize_t pairs = views[2].len / 8, n_singles = views[6].len / 4;
    if (views[0].len != 0x10000 * 4 || views[1].len != 0x10000 || views[3].len != pairs * 8 || views[4].len != pairs * 8) {
        PyErr_SetString(PyExc_ValueError, "phrase_find: tables of the wrong size");
        goto done;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    lowered = PyMem_Malloc((n ? n : 1) * sizeof(uint32_t));
    Py_ssize_t capacity = 64, count = 0;
    found = PyMem_Malloc(capacity * 2 * sizeof(int64_t));
    if (!lowered || !found) { PyErr_NoMemory(); goto done; }
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c <= 0xFFFF) {
            lowered[i] = lower[c];
            continue;
        }
        /* Past the BMP (rare: emoji, CJK extensions, a few cased scripts): str.lower, as Python does. */
        PyObject *one = PyUnicode_FromOrdinal(c), *low = one ? PyObject_CallMethod(one, "lower", NULL) : NULL;
        Py_XDECREF(one);
        if (!low) goto done;
        lowered[i] = PyUnicode_GET_LENGTH(low) == 1 ? PyUnicode_READ_CHAR(low, 0) : c;
        Py_DECREF(low);
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        uint32_t first = lowered[i];
        if (i + 1 < n && pairs) {
            uint32_t second = lowered[i + 1];
            if (blocks[((first * 40503u) ^ second) & 0xFFFFu]) {
                uint64_t key = (uint64_t)first << 32 | second;
                for (Py_ssize_t j = lower_bound_u64(pair_keys, pairs, key); j < pairs && pair_keys[j] == key; j++) {
                    int64_t length = lengths[j];
                    if (i + length > n) continue;
                    if (memcmp(lowered + i, codes + offsets[j], (size_t)length * sizeof(uint32_t)) != 0) continue;
                    if (count == capacity) {
                        capacity *= 2;
                        int64_t *grown = PyMem_Realloc(found, capacity * 2 * sizeof(int64_t));
                        if (!grown) { PyErr_NoMemory(); goto done; }
                        found = grown;
                    }
                    found[2 * count] = i;
                    found[2 * count + 1] = j;
                    count++;
                }
            }
        }
        if (n_singles) {
            Py_ssize_t low = 0, high = n_singles;
            while (low < high) {
                Py_ssize_t middle = (low + high) / 2;
                if (singles[middle] < first) low = middle + 1; else high = middle;
            }
            if (low < n_singles && singles[low] == first) {
                if (count == capacity) {
                    capacity *= 2;
                    int64_t *grown = PyMem_Realloc(found, capacity * 2 * sizeof(int64_t));
                    if (!grown) { PyErr_NoMemory(); goto done; }
                    found = grown;
                }
                found[2 * count] = i;
                found[2 * count + 1] = pairs + low;
                count++;
            }
        }
    }
    result = PyBytes_FromStringAndSize((const char *)found, count * 2 * (Py_ssize_t)sizeof(int64_t));
done:
    PyMem_Free(lowered);
    PyMem_Free(found);
    for (int k = 0; k < held; k++) PyBuffer_Release(&views[k]);
    return result;
}

PyDoc_STRVAR(code_line_candidates_doc,
"code_line_candidates(text: str) -> tuple[int, bytes]\n\n"
"The characters of text's lines, each stripped of whitespace (str.strip), added up, and the\n"
"numbers (native int64) of the lines that may be code (stages/policy.py): the\n"
"line, stripped of whitespace, ends in ; { or }, starts with } ] ) / * # < or an ASCII letter,\n"
"or holds = && || :: or (). Only those lines need the policy's regex.");

static PyObject *code_line_candidates(PyObject *self, PyObject *text) {
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "text must be str");
        return NULL;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t capacity = 64, count = 0, visible = 0, line = 0, start = 0;
    int64_t *found = PyMem_Malloc(capacity * sizeof(int64_t));
    if (!found) return PyErr_NoMemory();
    for (Py_ssize_t i = 0; i <= n; i++) {
        Py_UCS4 c = i < n ? PyUnicode_READ(kind, data, i) : '\n';
        if (c != '\n') continue;
        /* The line [start, i): strip whitespace as str.strip does, then test its ends and middle. */
        Py_ssize_t a = start, b = i;
        while (a < b && Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, a))) a++;
        while (b > a && Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, b - 1))) b--;
        int maybe = 0;
        visible += b - a;
        if (a < b) {
            Py_UCS4 first = PyUnicode_READ(kind, data, a), last = PyUnicode_READ(kind, data, b - 1);
            maybe = last == ';' || last == '{' || last == '}' || first == '}' || first == ']' || first == ')' || first == '/'
                    || first == '*' || first == '#' || first == '<' || (first < 128 && ((first | 32) >= 'a' && (first | 32) <= 'z'));
            for (Py_ssize_t k = a; !maybe && k < b; k++) {
                Py_UCS4 x = PyUnicode_READ(kind, data, k), y = k + 1 < b ? PyUnicode_READ(kind, data, k + 1) : 0;
                maybe = x == '=' || (x == '&' && y == '&') || (x == '|' && y == '|') || (x == ':' && y == ':') || (x == '(' && y == ')');
            }
        }
        if (maybe) {
            if (count == capacity) {
                capacity *= 2;
                int64_t *grown = PyMem_Realloc(found, capacity * sizeof(int64_t));
                if (!grown) { PyMem_Free(found); return PyErr_NoMemory(); }
                found = grown;
            }
            found[count++] = line;
        }
        line++;
        start = i + 1;
    }
    PyObject *lines = PyBytes_FromStringAndSize((const char *)found, count * (Py_ssize_t)sizeof(int64_t));
    PyMem_Free(found);
    if (!lines) return NULL;
    return Py_BuildValue("(nN)", visible, lines);
}

PyDoc_STRVAR(edge_lines_doc,
"edge_lines(text: str) -> tuple[int, int, int]\n\n"
"Gopher's line counts, with str.splitlines' lines (no lines: one empty line): how many lines,\n"
"how many start with a bullet (- * • · ● ■ ◆ ▪ → ► after leading whitespace), and how many\n"
"end with ... or … (before trailing whitespace). stages/gopher_quality.py; Python took two\n"
"passes over the lines.");

static int line_break(Py_UCS4 c) {
    return c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x1C || c == 0x1D || c == 0x1E || c == 0x85 || c == 0x2028 || c == 0x2029;
}

static int bullet(Py_UCS4 c) {
    return c == 0x2022 || c == '-' || c == 0xB7 || c == 0x25CF || c == 0x25A0 || c == 0x25C6 || c == 0x25AA || c == '*' || c == 0x2192 || c == 0x25BA;
}

static PyObject *edge_lines(PyObject *self, PyObject *text) {
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "text must be str");
        return NULL;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t lines = 0, bullets = 0, ellipses = 0, start = 0;
    while (start < n) {
        Py_ssize_t end = start;
        while (end < n && !line_break(PyUnicode_READ(kind, data, end))) end++;
        Py_ssize_t a = start, b = end;
        while (a < b && Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, a))) a++;
        while (b > a && Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, b - 1))) b--;
        lines++;
        if (a < b) {
            bullets += bullet(PyUnicode_READ(kind, data, a));
            Py_UCS4 last = PyUnicode_READ(kind, data, b - 1);
            ellipses += last == 0x2026 || (last == '.' && b - a >= 3 && PyUnicode_READ(kind, data, b - 2) == '.' && PyUnicode_READ(kind, data, b - 3) == '.');
        }
        /* \r\n is one break, as in str.splitlines. */
        if (end < n && PyUnicode_READ(kind, data, end) == '\r' && end + 1 < n && PyUnicode_READ(kind, data, end + 1) == '\n') end++;
        start = end + 1;
    }
    return Py_BuildValue("(nnn)", lines ? lines : 1, bullets, ellipses);
}

PyDoc_STRVAR(sentence_lines_doc,
"sentence_lines(lines: list[str], marks: buffer) -> bytes\n\n"
"One byte per line: whether it holds a character whose byte in marks (one per BMP code point)\n"
"is set, or an ASCII full stop before whitespace or the line's end (stages/fineweb_quality.py's\n"
"SENTENCE_LINE, without a regex search per line).");

static PyObject *sentence_lines(PyObject *self, PyObject *args) {
    PyObject *lines, *marks_obj;
    if (!PyArg_ParseTuple(args, "O!O", &PyList_Type, &lines, &marks_obj)) return NULL;
    Py_buffer mb;
    if (PyObject_GetBuffer(marks_obj, &mb, PyBUF_SIMPLE) < 0) return NULL;
    PyObject *result = NULL;
    if (mb.len != 0x10000) {
        PyErr_SetString(PyExc_ValueError, "sentence_lines: marks needs one byte per BMP code point");
        goto done;
    }
    const uint8_t *marks = mb.buf;
    Py_ssize_t count = PyList_GET_SIZE(lines);
    result = PyBytes_FromStringAndSize(NULL, count);
    if (!result) goto done;
    uint8_t *out = (uint8_t *)PyBytes_AS_STRING(result);
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *line = PyList_GET_ITEM(lines, i);
        if (!PyUnicode_Check(line)) {
            Py_CLEAR(result);
            PyErr_Format(PyExc_TypeError, "lines[%zd] is not str", i);
            goto done;
        }
        Py_ssize_t n = PyUnicode_GET_LENGTH(line);
        int kind = PyUnicode_KIND(line);
        const void *data = PyUnicode_DATA(line);
        int found = 0;
        for (Py_ssize_t k = 0; k < n && !found; k++) {
            Py_UCS4 c = PyUnicode_READ(kind, data, k);
            if (c <= 0xFFFF && marks[c]) found = 1;
            else if (c == '.' && (k + 1 == n || Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, k + 1)))) found = 1;
        }
        out[i] = (uint8_t)found;
    }
done:
    PyBuffer_Release(&mb);
    return result;
}

PyDoc_STRVAR(sentence_ends_doc,
"sentence_ends(text: str) -> int\n\n"
"Runs of sentence ends in text: 。！？!?… and an ASCII full stop after a letter or digit and\n"
"before whitespace or the end (stages/text_profile.py's sentence_count, without numpy passes).");

static int sentence_mark(Py_UCS4 c) {
    return c == 0x3002 || c == 0xFF01 || c == 0xFF1F || c == '!' || c == '?' || c == 0x2026;
}

static PyObject *sentence_ends(PyObject *self, PyObject *text) {
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "text must be str");
        return NULL;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(text), runs = 0;
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    int previous_end = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        int end = sentence_mark(c);
        if (!end && c == '.' && i > 0) {
            Py_UCS4 before = PyUnicode_READ(kind, data, i - 1);
            /* Past the BMP everything counts as a letter, as text_profile's character kinds have it. */
            int alnum = before > 0xFFFF || Py_UNICODE_ISALNUM(before);
            end = alnum && (i + 1 == n || Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, i + 1)));
        }
        runs += end && !previous_end;
        previous_end = end;
    }
    return PyLong_FromSsize_t(runs);
}

static PyMethodDef methods[] = {
    {"sentence_ends", sentence_ends, METH_O, sentence_ends_doc},
    {"sentence_lines", sentence_lines, METH_VARARGS, sentence_lines_doc},
    {"edge_lines", edge_lines, METH_O, edge_lines_doc},
    {"code_line_candidates", code_line_candidates, METH_O, code_line_candidates_doc},
    {"phrase_find", phrase_find, METH_VARARGS, phrase_find_doc},
    {"navigation_lines", navigation_lines, METH_VARARGS, navigation_lines_doc},
    {"token_lengths", token_lengths, METH_O, token_lengths_doc},
    {"repetition_chars", repetition_chars, METH_VARARGS, repetition_doc},
    {"char_entropy", char_entropy, METH_O, char_entropy_doc},
    {"spaced_tokens", spaced_tokens, METH_O, spaced_tokens_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_text_kernels",
    "Per-document loops of the text profile, in C (see stages/_text_kernels.c).", -1, methods,
};

PyMODINIT_FUNC PyInit__text_kernels(void) { return PyModule_Create(&module); }
