/* The per-document loops of the quality stages that numpy cannot express without a Python call per
 * item or a sort: token lengths, Gopher's n-gram repetition counts, character entropy, and the
 * spam model's token line.
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

static PyMethodDef methods[] = {
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
