/**
 * A read-only prefix trie over UTF-16 code units, for WordPiece's greedy longest match without building a
 * substring (and hashing it) for every candidate length. Nodes and edges live in flat typed arrays (children of a
 * node are contiguous and sorted, found by binary search); it is built once from the sorted vocabulary.
 */
export class PrefixTrie {
  /** Per node: the id of the key ending there, or -1. */
  private readonly terminal: Int32Array;
  /** Per node: its first edge and its number of edges. */
  private readonly edgeStart: Int32Array;
  private readonly edgeCount: Int32Array;
  /** Per edge: the code unit and the child node. */
  private readonly edgeChar: Uint16Array;
  private readonly edgeNode: Int32Array;

  constructor(entries: Iterable<readonly [string, number]>) {
    const list = [...entries].filter(([k]) => k.length > 0);
    list.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    let units = 0;
    for (const [k] of list) units += k.length;
    // Sorted keys: each key adds nodes only past its common prefix with the previous key, and a node's children
    // are created in increasing code unit order. Edges are recorded flat, then grouped by parent (counting sort).
    const terminal = new Int32Array(units + 1).fill(-1);
    const parentOf = new Int32Array(units);
    const charOf = new Uint16Array(units);
    const path = new Int32Array(64);
    let nodes = 1;
    let prev = '';
    for (const [key, id] of list) {
      let l = 0;
      const max = Math.min(prev.length, key.length);
      while (l < max && prev.charCodeAt(l) === key.charCodeAt(l)) l++;
      if (l === key.length && l === prev.length) continue; // duplicate key: keep the first (callers pass unique keys)
      for (let d = l; d < key.length; d++) {
        const n = nodes++;
        parentOf[n - 1] = path[d]!;
        charOf[n - 1] = key.charCodeAt(d);
        if (d + 1 >= path.length)
          throw new Error(`PrefixTrie: key longer than ${path.length - 1} code units: ${key.slice(0, 20)}...`);
        path[d + 1] = n;
      }
      terminal[path[key.length]!] = id;
      prev = key;
    }
    // Edge e (0-based) leads to node e + 1. Group edges by parent, keeping creation (= code unit) order.
    const edges = nodes - 1;
    const edgeCount = new Int32Array(nodes);
    for (let e = 0; e < edges; e++) edgeCount[parentOf[e]!]!++;
    const edgeStart = new Int32Array(nodes);
    for (let n = 1; n < nodes; n++) edgeStart[n] = edgeStart[n - 1]! + edgeCount[n - 1]!;
    const fill = edgeStart.slice();
    const edgeChar = new Uint16Array(edges);
    const edgeNode = new Int32Array(edges);
    for (let e = 0; e < edges; e++) {
      const slot = fill[parentOf[e]!]!++;
      edgeChar[slot] = charOf[e]!;
      edgeNode[slot] = e + 1;
    }
    this.terminal = terminal.slice(0, nodes);
    this.edgeStart = edgeStart;
    this.edgeCount = edgeCount;
    this.edgeChar = edgeChar;
    this.edgeNode = edgeNode;
  }

  /**
   * The longest key equal to text[from, end) for some end <= to: writes [id, end] into `out` and returns true,
   * or returns false when no key matches.
   */
  longest(text: string, from: number, to: number, out: [number, number]): boolean {
    let node = 0;
    let found = false;
    for (let i = from; i < to; i++) {
      const c = text.charCodeAt(i);
      let lo = this.edgeStart[node]!;
      let hi = lo + this.edgeCount[node]! - 1;
      let next = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >>> 1;
        const m = this.edgeChar[mid]!;
        if (m === c) {
          next = this.edgeNode[mid]!;
          break;
        }
        if (m < c) lo = mid + 1;
        else hi = mid - 1;
      }
      if (next < 0) break;
      node = next;
      const id = this.terminal[node]!;
      if (id >= 0) {
        out[0] = id;
        out[1] = i + 1;
        found = true;
      }
    }
    return found;
  }
}
