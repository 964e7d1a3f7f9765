/**
 * A minimal protobuf wire-format reader: enough to walk a message's fields (varint, 64-bit,
 * length-delimited, 32-bit). SentencePiece's `ModelProto` needs nothing more, so we decode it
 * ourselves instead of pulling a protobuf package and a generated schema from npm.
 * @module
 */

/** One field of a message. */
export interface ProtoField {
  /** Field number. */
  field: number;
  /** Wire type: 0 varint, 1 fixed64, 2 bytes, 5 fixed32. */
  wire: number;
  /** Varint value (wire 0; as a number, exact below 2^53). */
  int: number;
  /** Raw bytes (wire 1, 2, 5). */
  bytes: Uint8Array;
}

/** Yields the fields of a message; throws naming `what` on malformed input. */
export function* protoFields(buf: Uint8Array, what: string): Generator<ProtoField> {
  let p = 0;
  const varint = (): number => {
    let v = 0, mul = 1;
    for (let i = 0; i < 10; i++) {
      if (p >= buf.length) throw new Error(`${what}: truncated varint at byte ${p}`);
      const b = buf[p++];
      v += (b & 0x7f) * mul;
      if (!(b & 0x80)) return v;
      mul *= 128;
    }
    throw new Error(`${what}: varint longer than 10 bytes at byte ${p}`);
  };
  const empty: Uint8Array = new Uint8Array(0);
  while (p < buf.length) {
    const key = varint();
    const field = Math.floor(key / 8), wire = key & 7;
    let int = 0, bytes = empty;
    const take = (n: number) => {
      if (p + n > buf.length) throw new Error(`${what}: field ${field} runs past the end (byte ${p})`);
      bytes = buf.subarray(p, p + n);
      p += n;
    };
    if (wire === 0) int = varint();
    else if (wire === 1) take(8);
    else if (wire === 2) take(varint());
    else if (wire === 5) take(4);
    else throw new Error(`${what}: unsupported wire type ${wire} for field ${field} at byte ${p}`);
    yield { field, wire, int, bytes };
  }
}

/** A fixed32 field as float32. */
export function protoFloat(f: ProtoField): number {
  return new DataView(f.bytes.buffer, f.bytes.byteOffset, 4).getFloat32(0, true);
}

/** A length-delimited field as UTF-8 text. */
export function protoString(f: ProtoField): string {
  return new TextDecoder().decode(f.bytes);
}
