// Command mamori-verify is an independent verifier for a running mamori log, written against
// the Go checksum database's transparency-log packages (golang.org/x/mod/sumdb/note and
// golang.org/x/mod/sumdb/tlog) rather than mamori's own code.
//
// It fetches the log's checkpoint and tiles over HTTP (c2sp.org/tlog-tiles layout) and checks:
//
//   - the checkpoint's signed-note signature with the log's verifier key;
//   - the checkpoint body (origin, tree size, base64 root hash);
//   - the root hash recomputed with tlog.TreeHash over tlog.TileHashReader (which authenticates
//     every tile it reads against the checkpoint's root);
//   - for each requested index, the entry from the entry bundle and a tlog.ProveRecord /
//     tlog.CheckRecord inclusion proof for its record hash -- and likewise for every other entry
//     of the same bundle, whose record hashes must also equal the level-0 tile's hashes;
//   - optionally, a tlog.ProveTree / tlog.CheckTree consistency proof from an older
//     (size, root) pair to the current checkpoint.
//
// Every successful check prints an "OK ..." line; any failure prints "FAIL: ..." on stderr and
// exits with status 1.
//
// The sumdb packages use tile paths "tile/8/L/NNN[.p/W]" (and "tile/8/data/..." for record
// data); tlog-tiles drops the height component and calls record data "entries". The hashing
// and the tile contents are the same; only the paths are mapped here.
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const height = 8

var client = &http.Client{Timeout: 30 * time.Second}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "FAIL: "+format+"\n", args...)
	os.Exit(1)
}

var errNotFound = errors.New("404 not found")

func get(url string) ([]byte, error) {
	resp, err := client.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusNotFound {
		return nil, fmt.Errorf("GET %s: %w", url, errNotFound)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: HTTP %d: %s", url, resp.StatusCode, bytes.TrimSpace(body))
	}
	return body, nil
}

// tlogTilesPath maps a sumdb tile to its c2sp.org/tlog-tiles path.
func tlogTilesPath(t tlog.Tile) string {
	p := t.Path()
	prefix := fmt.Sprintf("tile/%d/", t.H)
	if !strings.HasPrefix(p, prefix) {
		fail("unexpected sumdb tile path %q", p)
	}
	p = "tile/" + strings.TrimPrefix(p, prefix)
	if strings.HasPrefix(p, "tile/data/") {
		p = "tile/entries/" + strings.TrimPrefix(p, "tile/data/")
	}
	return p
}

// fetchTile fetches a tile, falling back to the full tile when a partial one is gone: tlog-tiles
// lets logs delete partial tiles once the full tile exists, and a full tile starts with the
// same hashes/entries as every partial tile of the same index.
func fetchTile(base string, t tlog.Tile) (data []byte, full bool, err error) {
	data, err = get(base + "/" + tlogTilesPath(t))
	if err == nil || !errors.Is(err, errNotFound) || t.W == 1<<height {
		return data, false, err
	}
	ft := t
	ft.W = 1 << height
	data, err2 := get(base + "/" + tlogTilesPath(ft))
	if err2 != nil {
		return nil, false, fmt.Errorf("%v; full tile: %v", err, err2)
	}
	return data, true, nil
}

type tileReader struct {
	base      string
	cache     map[string][]byte // tiles by path (the log's tiles are immutable)
	fetched   int
	fallbacks int // partial tiles read as a prefix of the full tile
}

func (r *tileReader) Height() int { return height }

func (r *tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		if d, ok := r.cache[t.Path()]; ok {
			out[i] = d
			continue
		}
		data, full, err := fetchTile(r.base, t)
		if err != nil {
			return nil, err
		}
		if full {
			if len(data) < t.W*tlog.HashSize {
				return nil, fmt.Errorf("full tile for %s has only %d bytes", tlogTilesPath(t), len(data))
			}
			data = data[:t.W*tlog.HashSize]
			r.fallbacks++
		}
		out[i] = data
		if r.cache == nil {
			r.cache = map[string][]byte{}
		}
		r.cache[t.Path()] = data
		r.fetched++
	}
	return out, nil
}

func (r *tileReader) SaveTiles(tiles []tlog.Tile, data [][]byte) {}

// splitBundle splits an entry bundle into entries (each a big-endian uint16 length and bytes).
func splitBundle(b []byte) ([][]byte, error) {
	var out [][]byte
	for len(b) > 0 {
		if len(b) < 2 {
			return nil, fmt.Errorf("truncated length prefix after %d entries", len(out))
		}
		n := int(binary.BigEndian.Uint16(b))
		if len(b) < 2+n {
			return nil, fmt.Errorf("entry %d: length %d but only %d bytes left", len(out), n, len(b)-2)
		}
		out = append(out, b[2:2+n])
		b = b[2+n:]
	}
	return out, nil
}

func parseHash(s string) (tlog.Hash, error) {
	var h tlog.Hash
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return h, err
	}
	if len(b) != tlog.HashSize {
		return h, fmt.Errorf("%d bytes, want %d", len(b), tlog.HashSize)
	}
	copy(h[:], b)
	return h, nil
}

func main() {
	base := flag.String("url", "", "base URL of the log (serving /checkpoint and /tile/...)")
	vkey := flag.String("vkey", "", "the log's note verifier key")
	origin := flag.String("origin", "", "expected checkpoint origin (default: the vkey's name)")
	indexes := flag.String("index", "", "comma-separated entry indexes to prove")
	oldSize := flag.Int64("old-size", -1, "size of an older checkpoint to prove consistency from")
	oldRoot := flag.String("old-root", "", "base64 root hash of that older checkpoint")
	flag.Parse()
	if *base == "" || *vkey == "" {
		fail("usage: mamori-verify -url URL -vkey VKEY [-index 0,1,...] [-old-size N -old-root B64]")
	}
	*base = strings.TrimRight(*base, "/")

	// (a) The checkpoint's signature.
	verifier, err := note.NewVerifier(strings.TrimSpace(*vkey))
	if err != nil {
		fail("bad vkey: %v", err)
	}
	msg, err := get(*base + "/checkpoint")
	if err != nil {
		fail("fetch checkpoint: %v", err)
	}
	n, err := note.Open(msg, note.VerifierList(verifier))
	if err != nil {
		fail("checkpoint signature does not verify with %s: %v", verifier.Name(), err)
	}
	fmt.Printf("OK signature: %d verified signature(s) by %s (key id %08x)\n", len(n.Sigs), verifier.Name(), verifier.KeyHash())

	// (b) The checkpoint body: origin, size, root, then optional extension lines.
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 || lines[len(lines)-1] != "" {
		fail("checkpoint body has %d lines, want origin, size, root: %q", len(lines), n.Text)
	}
	want := *origin
	if want == "" {
		want = verifier.Name()
	}
	if lines[0] != want {
		fail("checkpoint origin %q, want %q", lines[0], want)
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != lines[1] {
		fail("checkpoint size %q is not a canonical decimal", lines[1])
	}
	root, err := parseHash(lines[2])
	if err != nil {
		fail("checkpoint root %q: %v", lines[2], err)
	}
	tree := tlog.Tree{N: size, Hash: root}
	fmt.Printf("OK checkpoint: origin %s, size %d, root %s\n", lines[0], size, root)

	// (c) The root recomputed from tiles, each authenticated against the checkpoint root.
	tr := &tileReader{base: *base}
	hr := tlog.TileHashReader(tree, tr)
	th, err := tlog.TreeHash(size, hr)
	if err != nil {
		fail("tree hash from tiles: %v", err)
	}
	if th != root {
		fail("tree hash from tiles %s != checkpoint root %s", th, root)
	}
	fmt.Printf("OK tree hash: tlog.TreeHash(%d) from tiles = checkpoint root (%d tiles fetched)\n", size, tr.fetched)

	// (d) Inclusion proofs for entries read from the entry bundles.
	if *indexes != "" {
		for _, s := range strings.Split(*indexes, ",") {
			idx, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
			if err != nil {
				fail("bad index %q", s)
			}
			if idx < 0 || idx >= size {
				fail("index %d is outside the checkpoint (size %d)", idx, size)
			}
			bundleN := idx / (1 << height)
			w := size - bundleN*(1<<height)
			if w > 1<<height {
				w = 1 << height
			}
			bt := tlog.Tile{H: height, L: -1, N: bundleN, W: int(w)}
			data, full, err := fetchTile(*base, bt)
			if err != nil {
				fail("entry bundle for index %d: %v", idx, err)
			}
			entries, err := splitBundle(data)
			if err != nil {
				fail("entry bundle %s: %v", tlogTilesPath(bt), err)
			}
			if full {
				if len(entries) < int(w) {
					fail("full entry bundle for %s has %d entries", tlogTilesPath(bt), len(entries))
				}
				entries = entries[:w]
			}
			if len(entries) != int(w) {
				fail("entry bundle %s has %d entries, want %d", tlogTilesPath(bt), len(entries), w)
			}
			// Every entry of the bundle gets its own inclusion proof against the signed root.
			// (The proofs, not ReadHashes, are what authenticates the tiles: in x/mod v0.7.0
			// TileHashReader.ReadHashes authenticates tiles against their parents in a loop
			// starting at len(stx) -- the number of subtree hashes of the tree size -- rather
			// than at the number of tiles planned for them, so tiles fetched only for the
			// requested indexes can be returned unauthenticated. CheckRecord/CheckTree recompute
			// the signed root and are not affected.)
			first := bundleN * (1 << height)
			var proof tlog.RecordProof
			for i, e := range entries {
				j := first + int64(i)
				p, err := tlog.ProveRecord(size, j, hr)
				if err != nil {
					fail("ProveRecord(%d, %d): %v", size, j, err)
				}
				if err := tlog.CheckRecord(p, size, root, j, tlog.RecordHash(e)); err != nil {
					fail("CheckRecord(index %d, entry from bundle %s): %v", j, tlogTilesPath(bt), err)
				}
				if j == idx {
					proof = p
				}
			}
			// And the level-0 hashes as read from the tiles equal the entries' record hashes.
			var leafIdx []int64
			for i := int64(0); i < w; i++ {
				leafIdx = append(leafIdx, tlog.StoredHashIndex(0, first+i))
			}
			leaves, err := hr.ReadHashes(leafIdx)
			if err != nil {
				fail("level-0 hashes for bundle %s: %v", tlogTilesPath(bt), err)
			}
			for i, e := range entries {
				if tlog.RecordHash(e) != leaves[i] {
					fail("entry %d in bundle %s: record hash %s != tile hash %s", first+int64(i), tlogTilesPath(bt), tlog.RecordHash(e), leaves[i])
				}
			}
			entry := entries[idx-first]
			rh := tlog.RecordHash(entry)
			fmt.Printf("OK inclusion: index %d (%d-byte entry, record hash %s) in tree %d, %d-hash proof; all %d entries of bundle %s proven\n",
				idx, len(entry), rh, size, len(proof), len(entries), tlogTilesPath(bt))
		}
	}

	// (e) Consistency from an older checkpoint.
	if *oldSize >= 0 {
		old, err := parseHash(*oldRoot)
		if err != nil {
			fail("old root %q: %v", *oldRoot, err)
		}
		if *oldSize > size {
			fail("old size %d is larger than the current size %d", *oldSize, size)
		}
		proof, err := tlog.ProveTree(size, *oldSize, hr)
		if err != nil {
			fail("ProveTree(%d, %d): %v", size, *oldSize, err)
		}
		if err := tlog.CheckTree(proof, size, root, *oldSize, old); err != nil {
			fail("consistency %d -> %d: CheckTree: %v", *oldSize, size, err)
		}
		// And the old root recomputed directly from the current tree's tiles.
		oh, err := tlog.TreeHash(*oldSize, hr)
		if err != nil {
			fail("TreeHash(%d): %v", *oldSize, err)
		}
		if oh != old {
			fail("TreeHash(%d) from current tiles %s != old root %s", *oldSize, oh, old)
		}
		// And the old tree on its own: its tiles (partial ones possibly pruned and read as a
		// prefix of the full tile) authenticated against the old root.
		otr := &tileReader{base: *base}
		ohr := tlog.TileHashReader(tlog.Tree{N: *oldSize, Hash: old}, otr)
		oh2, err := tlog.TreeHash(*oldSize, ohr)
		if err != nil {
			fail("old tree %d from its own tiles: %v", *oldSize, err)
		}
		if oh2 != old {
			fail("old tree %d from its own tiles: TreeHash %s != old root %s", *oldSize, oh2, old)
		}
		fmt.Printf("OK consistency: tree %d (%s) -> tree %d, %d-hash proof; TreeHash(%d) from current tiles matches; old tree from its own tiles matches (%d tiles, %d pruned partial tiles read from full tiles)\n",
			*oldSize, old, size, len(proof), *oldSize, otr.fetched, otr.fallbacks)
	}
	fmt.Println("OK all checks passed")
}
