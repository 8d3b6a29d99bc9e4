// dv_decode.mjs — an independent JavaScript decoder of Delta deletion
// vectors, written from delta-io/delta PROTOCOL.md ("Deletion Vectors",
// "Deletion Vector Descriptor Schema", "Deletion Vector Format") and the
// RoaringFormatSpec, sharing no code with changelake. The interop tests
// use it to check what changelake writes and reads.
//
//   descriptor  {storageType, pathOrInlineDv, offset, sizeInBytes, cardinality}
//               'u': optional random prefix + 20-character Z85 UUID; the file
//                   is <table>/<prefix>/deletion_vector_<uuid>.bin
//               'p': absolute path URI of the file
//               'i': the serialized bitmap itself, Z85-encoded
//   DV file     byte 0 = format version 1; at `offset`: int32 BE size,
//               the bitmap (size bytes), int32 BE CRC-32 of the bitmap
//   bitmap      RoaringBitmapArray "portable": int32 LE magic 1681511377,
//               int64 LE number of bitmaps, per bitmap uint32 LE key (high
//               32 bits of the row index) + a portable 32-bit Roaring bitmap;
//               or "native" (magic 1681511376, framing big- or little-endian
//               as the magic shows): int32 count, per bitmap int32 length +
//               portable bitmap keyed by its index (PROTOCOL.md's example)
//   Roaring     cookie uint32 LE: 12346 -> uint32 container count follows,
//               no run containers, offsets header present; (cookie & 0xFFFF)
//               == 12347 -> count = (cookie >> 16) + 1, then a run-flag
//               bitset of ceil(count / 8) bytes, offsets header only when
//               count >= 4. Then count x (uint16 key, uint16 card - 1), the
//               optional count x uint32 offsets, then the containers: run
//               (uint16 nruns, nruns x (start, length - 1)), array (card <=
//               4096: card x uint16), bitmap (1024 x uint64 LE).
//
// Everything is checked; a malformed input throws an Error naming what.
// Exports:
//   decodeDv(tableDir, descriptor) -> sorted BigInt[] of deleted rows
//                (size, CRC and cardinality checked)
//   readDvBitmap(tableDir, descriptor) -> Buffer of the serialized bitmap
//   decodeBitmapArray(buf) -> sorted BigInt[]
//   encodeBitmapArray(rows) -> Buffer (arrays / bitmaps only; for tests)
//   z85Decode(text) / z85Encode(buf), crc32(buf), dvFilePath(tableDir, d)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';
const DIGIT = new Map([...ALPHABET].map((c, i) => [c, i]));
const MAGIC = 1681511377;

export function z85Decode(text) {
	if (text.length % 5 !== 0) throw new Error(`z85: length ${text.length} is not a multiple of 5`);
	const out = Buffer.alloc((text.length / 5) * 4);
	for (let g = 0; g < text.length / 5; g++) {
		let v = 0n;
		for (let k = 0; k < 5; k++) {
			const d = DIGIT.get(text[g * 5 + k]);
			if (d === undefined) throw new Error(`z85: bad character ${JSON.stringify(text[g * 5 + k])}`);
			v = v * 85n + BigInt(d);
		}
		if (v > 0xffffffffn) throw new Error(`z85: group ${g} exceeds 32 bits`);
		out.writeUInt32BE(Number(v), g * 4);
	}
	return out;
}

export function z85Encode(buf) {
	const padded = Buffer.alloc(Math.ceil(buf.length / 4) * 4);
	buf.copy(padded);
	let s = '';
	for (let i = 0; i < padded.length; i += 4) {
		let v = padded.readUInt32BE(i);
		const chunk = [];
		for (let k = 0; k < 5; k++) {
			chunk.unshift(ALPHABET[v % 85]);
			v = Math.floor(v / 85);
		}
		s += chunk.join('');
	}
	return s;
}

let CRC_TABLE = null;
export function crc32(buf) {
	if (!CRC_TABLE) {
		CRC_TABLE = new Uint32Array(256);
		for (let n = 0; n < 256; n++) {
			let c = n;
			for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
			CRC_TABLE[n] = c >>> 0;
		}
	}
	let c = 0xffffffff;
	for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
	return (c ^ 0xffffffff) >>> 0;
}

// A bounds-checked little-endian cursor.
class Cursor {
	constructor(buf, what) { this.buf = buf; this.pos = 0; this.what = what; }
	need(n, field) {
		if (this.pos + n > this.buf.length)
			throw new Error(`${this.what}: truncated ${field} at byte ${this.pos}`);
	}
	u16(field) { this.need(2, field); const v = this.buf.readUInt16LE(this.pos); this.pos += 2; return v; }
	u32(field) { this.need(4, field); const v = this.buf.readUInt32LE(this.pos); this.pos += 4; return v; }
	u64(field) { this.need(8, field); const v = this.buf.readBigUInt64LE(this.pos); this.pos += 8; return v; }
	bytes(n, field) { this.need(n, field); const b = this.buf.subarray(this.pos, this.pos + n); this.pos += n; return b; }
}

// One portable 32-bit Roaring bitmap; appends BigInt rows (high | low).
function decodeRoaring(cur, high, out, label) {
	const start = cur.pos;
	const cookie = cur.u32('cookie');
	let count, runFlags = null, hasOffsets;
	if ((cookie & 0xffff) === 12347) {
		count = (cookie >>> 16) + 1;
		runFlags = cur.bytes(Math.ceil(count / 8), 'run flags');
		hasOffsets = count >= 4;
	} else if (cookie === 12346) {
		count = cur.u32('container count');
		if (count > 65536) throw new Error(`${label}: ${count} containers`);
		hasOffsets = true;
	} else {
		throw new Error(`${label}: unknown cookie ${cookie}`);
	}
	const keys = [], cards = [];
	for (let i = 0; i < count; i++) {
		keys.push(cur.u16('container key'));
		cards.push(cur.u16('container cardinality') + 1);
		if (i > 0 && keys[i] <= keys[i - 1]) throw new Error(`${label}: container keys not increasing`);
	}
	const offsets = [];
	if (hasOffsets) for (let i = 0; i < count; i++) offsets.push(cur.u32('container offset'));
	for (let i = 0; i < count; i++) {
		if (hasOffsets && offsets[i] !== cur.pos - start)
			throw new Error(`${label}: container ${i} offset ${offsets[i]} but data at ${cur.pos - start}`);
		const base = high | (BigInt(keys[i]) << 16n);
		const isRun = runFlags && (runFlags[i >> 3] >> (i & 7)) & 1;
		let n = 0;
		if (isRun) {
			const nruns = cur.u16('run count');
			let prevEnd = -1;
			for (let r = 0; r < nruns; r++) {
				const s = cur.u16('run start'), len = cur.u16('run length');
				if (s <= prevEnd || s + len > 0xffff) throw new Error(`${label}: bad run ${r} of container ${i}`);
				for (let v = s; v <= s + len; v++) out.push(base | BigInt(v));
				n += len + 1;
				prevEnd = s + len;
			}
		} else if (cards[i] <= 4096) {
			let prev = -1;
			for (let k = 0; k < cards[i]; k++) {
				const v = cur.u16('array value');
				if (v <= prev) throw new Error(`${label}: array container ${i} not increasing`);
				out.push(base | BigInt(v));
				prev = v;
			}
			n = cards[i];
		} else {
			const words = cur.bytes(8192, 'bitmap container');
			for (let w = 0; w < 8192; w++) {
				const byte = words[w];
				for (let b = 0; b < 8; b++)
					if ((byte >> b) & 1) {
						out.push(base | BigInt(w * 8 + b));
						n++;
					}
			}
		}
		if (n !== cards[i]) throw new Error(`${label}: container ${i} holds ${n} values, header says ${cards[i]}`);
	}
}

// Delta's "native" RoaringBitmapArray (magic 1681511376): int32 count, per
// bitmap int32 length + portable bitmap (high key = index). The framing is
// big-endian in PROTOCOL.md's inline example; the magic's byte order says.
function decodeNative(buf, be) {
	const rd = (pos) => (be ? buf.readUInt32BE(pos) : buf.readUInt32LE(pos));
	if (buf.length < 8) throw new Error('native deletion vector: truncated header');
	const count = rd(4);
	let pos = 8;
	const out = [];
	for (let i = 0; i < count; i++) {
		if (pos + 4 > buf.length) throw new Error(`native deletion vector: truncated length ${i}`);
		const len = rd(pos);
		pos += 4;
		if (pos + len > buf.length) throw new Error(`native deletion vector: bitmap ${i} overruns`);
		const cur = new Cursor(buf.subarray(pos, pos + len), `native bitmap ${i}`);
		decodeRoaring(cur, BigInt(i) << 32n, out, `native bitmap ${i}`);
		if (cur.pos !== len) throw new Error(`native bitmap ${i}: trailing bytes`);
		pos += len;
	}
	if (pos !== buf.length) throw new Error('native deletion vector: trailing bytes');
	return out;
}

export function decodeBitmapArray(buf) {
	if (buf.length >= 4 && buf.readUInt32LE(0) === MAGIC - 1) return decodeNative(buf, false);
	if (buf.length >= 4 && buf.readUInt32BE(0) === MAGIC - 1) return decodeNative(buf, true);
	const cur = new Cursor(buf, 'deletion vector bitmap');
	const magic = cur.u32('magic');
	if (magic !== MAGIC) throw new Error(`deletion vector bitmap: magic ${magic}, want ${MAGIC}`);
	const n = cur.u64('bitmap count');
	if (n > BigInt(buf.length)) throw new Error(`deletion vector bitmap: ${n} bitmaps in ${buf.length} bytes`);
	const out = [];
	let prevKey = -1;
	for (let i = 0; i < Number(n); i++) {
		const key = cur.u32('bitmap key');
		if (key <= prevKey) throw new Error('deletion vector bitmap: keys not increasing');
		prevKey = key;
		decodeRoaring(cur, BigInt(key) << 32n, out, `bitmap ${i}`);
	}
	if (cur.pos !== buf.length) throw new Error(`deletion vector bitmap: ${buf.length - cur.pos} trailing bytes`);
	return out;
}

function uuidOfZ85(text) {
	const h = z85Decode(text).toString('hex');
	return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function dvFilePath(tableDir, d) {
	if (d.storageType === 'u') {
		const s = d.pathOrInlineDv;
		if (s.length < 20) throw new Error(`'u' deletion vector ${s}: shorter than a UUID`);
		const prefix = s.slice(0, s.length - 20);
		const name = `deletion_vector_${uuidOfZ85(s.slice(-20))}.bin`;
		return prefix ? path.join(tableDir, prefix, name) : path.join(tableDir, name);
	}
	if (d.storageType === 'p') {
		const p = d.pathOrInlineDv;
		return p.startsWith('file:') ? fileURLToPath(p) : p;
	}
	throw new Error(`deletion vector storage type '${d.storageType}' has no file`);
}

export function readDvBitmap(tableDir, d) {
	if (d.storageType === 'i') {
		const raw = z85Decode(d.pathOrInlineDv);
		if (d.sizeInBytes > raw.length || raw.length - d.sizeInBytes >= 4)
			throw new Error(`inline deletion vector: ${raw.length} bytes for sizeInBytes ${d.sizeInBytes}`);
		return raw.subarray(0, d.sizeInBytes);
	}
	const file = dvFilePath(tableDir, d);
	const all = fs.readFileSync(file);
	if (all.length < 1 || all[0] !== 1) throw new Error(`${file}: format version ${all[0]}, want 1`);
	const off = d.offset ?? 1;
	if (off + 4 > all.length) throw new Error(`${file}: offset ${off} past the end`);
	const size = all.readInt32BE(off);
	if (size !== d.sizeInBytes) throw new Error(`${file}@${off}: size ${size}, descriptor ${d.sizeInBytes}`);
	if (off + 8 + size > all.length) throw new Error(`${file}@${off}: truncated vector`);
	const bm = all.subarray(off + 4, off + 4 + size);
	const crc = all.readUInt32BE(off + 4 + size);
	if (crc !== crc32(bm)) throw new Error(`${file}@${off}: CRC-32 mismatch`);
	return bm;
}

export function decodeDv(tableDir, d) {
	const rows = decodeBitmapArray(readDvBitmap(tableDir, d));
	if (rows.length !== Number(d.cardinality))
		throw new Error(`deletion vector holds ${rows.length} rows, cardinality ${d.cardinality}`);
	return rows;
}

// Serialize sorted distinct BigInt rows (array and bitmap containers, no
// runs): a second, independent writer for round-trip checks.
export function encodeBitmapArray(rows) {
	const groups = new Map();
	for (const r of rows) {
		const hi = Number(r >> 32n);
		if (!groups.has(hi)) groups.set(hi, []);
		groups.get(hi).push(Number(r & 0xffffffffn));
	}
	const parts = [];
	const head = Buffer.alloc(12);
	head.writeUInt32LE(MAGIC, 0);
	head.writeBigUInt64LE(BigInt(groups.size), 4);
	parts.push(head);
	for (const [hi, lows] of [...groups].sort((a, b) => a[0] - b[0])) {
		const conts = new Map();
		for (const v of lows) {
			const k = v >>> 16;
			if (!conts.has(k)) conts.set(k, []);
			conts.get(k).push(v & 0xffff);
		}
		const list = [...conts].sort((a, b) => a[0] - b[0]);
		const hdr = Buffer.alloc(4 + 4 + 4 + list.length * 8);
		hdr.writeUInt32LE(hi, 0);
		hdr.writeUInt32LE(12346, 4);
		hdr.writeUInt32LE(list.length, 8);
		let off = 8 + list.length * 8;
		const bodies = [];
		list.forEach(([k, vals], i) => {
			hdr.writeUInt16LE(k, 12 + i * 4);
			hdr.writeUInt16LE(vals.length - 1, 14 + i * 4);
			hdr.writeUInt32LE(off, 12 + list.length * 4 + i * 4);
			let body;
			if (vals.length <= 4096) {
				body = Buffer.alloc(vals.length * 2);
				vals.forEach((v, j) => body.writeUInt16LE(v, j * 2));
			} else {
				body = Buffer.alloc(8192);
				for (const v of vals) body[v >> 3] |= 1 << (v & 7);
			}
			bodies.push(body);
			off += body.length;
		});
		parts.push(hdr, ...bodies);
	}
	return Buffer.concat(parts);
}

export default decodeDv;
