/**
 * Where a V8 heap snapshot's bytes are: self size summed by what each object is (its constructor or,
 * for strings, code and arrays, V8's node type), largest first. Self size only: a Map's entries are
 * counted where they live (the backing store arrays), not under the Map.
 *
 *   node --import tsx bench/lib/heap-summary.ts FILE.heapsnapshot [top]
 *
 * A snapshot comes from a server started with `--heapsnapshot-signal=SIGUSR1` (then `kill -USR1`).
 */
import fs from 'node:fs';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

export interface HeapLine {
  what: string;
  count: number;
  bytes: number;
}

export function summariseHeap(file: string): { totalBytes: number; lines: HeapLine[] } {
  const snap = JSON.parse(fs.readFileSync(file, 'utf8')) as Snapshot;
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f)) as [
    number,
    number,
    number,
  ];
  const by = new Map<string, HeapLine>();
  let totalBytes = 0;
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + typeAt]!]!;
    const bytes = snap.nodes[i + sizeAt]!;
    totalBytes += bytes;
    // Objects by constructor; strings, code, arrays and V8 internals by their type.
    const what =
      type === 'object' || type === 'native' || type === 'closure'
        ? `${type} ${snap.strings[snap.nodes[i + nameAt]!]}`
        : type;
    const line = by.get(what) ?? { what, count: 0, bytes: 0 };
    line.count++;
    line.bytes += bytes;
    by.set(what, line);
  }
  return { totalBytes, lines: [...by.values()].sort((a, b) => b.bytes - a.bytes) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [file, top = '30'] = process.argv.slice(2);
  if (!file) throw new Error('usage: heap-summary.ts FILE.heapsnapshot [top]');
  const { totalBytes, lines } = summariseHeap(file);
  const mib = (b: number) => (b / 1048576).toFixed(2).padStart(8);
  console.log(`${mib(totalBytes)} MiB in the heap snapshot`);
  for (const l of lines.slice(0, Number(top)))
    console.log(`${mib(l.bytes)} MiB ${String(l.count).padStart(9)}  ${l.what.slice(0, 90)}`);
}
