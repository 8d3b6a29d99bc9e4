// dv_decode_min.mjs — a small, independent decoder of Delta deletion vectors
// (delta-io/delta PROTOCOL.md "Deletion Vector Format"), written from the
// spec for the interop tests, sharing no code with changelake:
//
//   descriptor  {storageType 'u'|'p'|'i', pathOrInlineDv, offset, sizeInBytes,
//               cardinality}; 'u': optional prefix + 20-char Z85 UUID ->
//               <table>/<prefix>/deletion_vector_<uuid>.bin; 'p': absolute
//               file URI; 'i': Z85 of the bitmap itself
//   file        byte 1 (version), then per vector: int32 BE size, bitmap,
//               int32 BE CRC-32 (not checked here); offset -> size field
//   bitmap      RoaringBitmapArray: int32 LE magic 1681511377, int64 LE
//               count, per bitmap uint32 LE high key + portable Roaring
//               (cookie 12346 / 12347 with run containers)
//
// decodeDv(tableDir, descriptor) -> sorted array of BigInt row indexes.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const Z85 = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';

export function z85Decode(text) {
	if (text.length % 5) throw new Error(`Z85 text of length ${text.length}`);
	const out = Buffer.alloc((text.length / 5) * 4);
	for (let i = 0; i < text.length; i += 5) {
		let v = 0;
		for (let k = 0; k < 5; k++) {
			const d = Z85.indexOf(text[i + k]);
			if (d < 0) throw new Error(`bad Z85 character '${text[i + k]}'`);
			v = v * 85 + d;
		}
		out.writeUInt32BE(v >>> 0, (i / 5) * 4);
	}
	return out;
}

function uuidOf(z) {
	const h = z85Decode(z).toString('hex');
	return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

// Portable Roaring bitmap at buf[pos]; pushes values (numbers < 2^32) and
// returns the position after it.
function roaring(buf, pos, out) {
	const cookie = buf.readUInt32LE(pos);
	pos += 4;
	let n, runs = null;
	if ((cookie & 0xffff) === 12347) {
		n = (cookie >>> 16) + 1;
		runs = buf.subarray(pos, pos + Math.ceil(n / 8));
		pos += Math.ceil(n / 8);
	} else if (cookie === 12346) {
		n = buf.readUInt32LE(pos);
		pos += 4;
	} else {
		throw new Error(`bad Roaring cookie ${cookie}`);
	}
	const keys = [], cards = [];
	for (let i = 0; i < n; i++) {
		keys.push(buf.readUInt16LE(pos));
		cards.push(buf.readUInt16LE(pos + 2) + 1);
		pos += 4;
	}
	if (!runs || n >= 4)
		pos += 4 * n; // offset header
	for (let i = 0; i < n; i++) {
		const hi = keys[i] * 65536;
		const isRun = runs && (runs[i >> 3] >> (i & 7)) & 1;
		if (isRun) {
			const nr = buf.readUInt16LE(pos);
			pos += 2;
			for (let r = 0; r < nr; r++) {
				const start = buf.readUInt16LE(pos), len = buf.readUInt16LE(pos + 2);
				pos += 4;
				for (let v = start; v <= start + len; v++)
					out.push(hi + v);
			}
		} else if (cards[i] <= 4096) {
			for (let k = 0; k < cards[i]; k++, pos += 2)
				out.push(hi + buf.readUInt16LE(pos));
		} else {
			for (let w = 0; w < 8192; w++) {
				const byte = buf[pos + w];
				for (let b = 0; b < 8; b++)
					if ((byte >> b) & 1)
						out.push(hi + w * 8 + b);
			}
			pos += 8192;
		}
	}
	return pos;
}

export function decodeBitmap(buf) {
	if (buf.readInt32LE(0) !== 1681511377) throw new Error('bad RoaringBitmapArray magic');
	const count = Number(buf.readBigInt64LE(4));
	let pos = 12;
	const rows = [];
	for (let i = 0; i < count; i++) {
		const high = BigInt(buf.readUInt32LE(pos));
		pos += 4;
		const lows = [];
		pos = roaring(buf, pos, lows);
		for (const lo of lows)
			rows.push((high << 32n) | BigInt(lo));
	}
	return rows;
}

export function dvFilePath(tableDir, d) {
	if (d.storageType === 'u') {
		const p = d.pathOrInlineDv;
		const prefix = p.slice(0, p.length - 20), id = p.slice(p.length - 20);
		return path.join(tableDir, prefix, `deletion_vector_${uuidOf(id)}.bin`);
	}
	if (d.storageType === 'p')
		return fileURLToPath(d.pathOrInlineDv);
	return null;
}

export function decodeDv(tableDir, d) {
	let bitmap;
	if (d.storageType === 'i') {
		bitmap = z85Decode(d.pathOrInlineDv).subarray(0, d.sizeInBytes);
	} else {
		const file = fs.readFileSync(dvFilePath(tableDir, d));
		if (file[0] !== 1) throw new Error(`deletion vector file version ${file[0]}`);
		const off = Number(d.offset ?? 1);
		const size = file.readInt32BE(off);
		if (size !== d.sizeInBytes) throw new Error(`size ${size} != sizeInBytes ${d.sizeInBytes}`);
		bitmap = file.subarray(off + 4, off + 4 + size);
	}
	const rows = decodeBitmap(bitmap);
	if (rows.length !== Number(d.cardinality))
		throw new Error(`${rows.length} rows decoded, cardinality ${d.cardinality}`);
	return rows;
}
