import { describe, expect, it } from "vitest";
import { HandshakeReader, RecordReader, type TlsRecord } from "../../../../worker/core/tls/records";

const bytes = (...values: number[]) => new Uint8Array(values);
const record = (type: number, body: number[]) => [type, 3, 3, body.length >> 8, body.length & 0xff, ...body];

/** Pushes `stream` into a fresh reader in chunks of `size`, collecting every record. */
function readAll(stream: number[], size: number) {
  const reader = new RecordReader();
  const records: TlsRecord[] = [];
  for (let at = 0; at < stream.length; at += size) {
    const framed = reader.push(bytes(...stream.slice(at, at + size)));
    expect(framed.error).toBeNull();
    records.push(...framed.items);
  }
  return { records, pending: reader.pending };
}

describe("RecordReader", () => {
  const stream = [
    ...record(22, [1, 2, 3]),
    ...record(20, [1]),
    ...record(
      23,
      Array.from({ length: 300 }, (_, i) => i & 0xff),
    ),
  ];

  it.each([1, 2, 5, 6, 8, 64, stream.length])("joins records split across %i-byte reads", (size) => {
    const { records, pending } = readAll(stream, size);
    expect(records.map((r) => [r.type, r.body.length])).toEqual([
      [22, 3],
      [20, 1],
      [23, 300],
    ]);
    expect([...(records[0]?.body ?? [])]).toEqual([1, 2, 3]);
    expect([...(records[0]?.header ?? [])]).toEqual([22, 3, 3, 0, 3]);
    expect(records[2]?.body[299]).toBe(299 & 0xff);
    expect(pending).toBe(0);
  });

  it("holds back an incomplete record", () => {
    const { records, pending } = readAll(stream.slice(0, 10), 4);
    expect(records).toHaveLength(1);
    expect(pending).toBe(2);
  });

  it("says what answered when it is not TLS, and stays failed", () => {
    const reader = new RecordReader();
    const http = [...Buffer.from("HTTP/1.1 400 Bad Request\r\n\r\n")];
    expect(reader.push(bytes(...http))).toEqual({
      items: [],
      error: 'the server did not answer with TLS (it sent "HTTP/1.1 400 Bad Request")',
    });
    expect(reader.push(bytes(...record(22, [1]))).error).toMatch(/did not answer with TLS/);
    expect(new RecordReader().push(bytes(0x16, 0x05, 0x01, 0, 0)).error).toBe("the server did not answer with TLS");
  });

  it("refuses a record over the size limit", () => {
    expect(new RecordReader().push(bytes(23, 3, 3, 0x48, 0x01)).error).toBe(
      "TLS record of 18433 bytes is over the limit",
    );
  });
});

describe("HandshakeReader", () => {
  const message = (type: number, body: number[]) => [type, 0, body.length >> 8, body.length & 0xff, ...body];

  it("joins a message split over fragments and splits fragments holding several", () => {
    const reader = new HandshakeReader();
    const long = message(
      11,
      Array.from({ length: 1000 }, (_, i) => i % 7),
    );
    const stream = [...message(2, [9, 9]), ...long, ...message(14, [])];
    const seen: number[][] = [];
    for (const cut of [
      [0, 3],
      [3, 700],
      [700, 1010],
      [1010, stream.length],
    ]) {
      const framed = reader.push(bytes(...stream.slice(cut[0], cut[1])));
      expect(framed.error).toBeNull();
      seen.push(framed.items.map((m) => m.type));
    }
    expect(seen).toEqual([[], [2], [11], [14]]);
    expect(reader.pending).toBe(0);
  });

  it("keeps the raw bytes for the transcript", () => {
    const raw = message(2, [1, 2, 3]);
    const [m] = new HandshakeReader().push(bytes(...raw)).items;
    expect([...(m?.raw ?? [])]).toEqual(raw);
    expect([...(m?.body ?? [])]).toEqual([1, 2, 3]);
  });

  it("refuses a message over the size limit", () => {
    expect(new HandshakeReader().push(bytes(11, 0x10, 0, 0)).error).toBe(
      "handshake message of 1048576 bytes is over the limit",
    );
  });
});
