import { describe, expect, it } from "vitest";
import { hashSecret as nodeHash, newAdminToken, secretPrefix as nodePrefix } from "../../../scripts/lib/secrets.mjs";
import { hashSecret, newSecret, SECRET_PREFIX, secretPrefix } from "../../../worker/lib/secrets";

describe("secrets", () => {
  it("hashes the same way in the Worker and in the command-line scripts", async () => {
    const token = newAdminToken();
    expect(token.startsWith(SECRET_PREFIX.token)).toBe(true);
    expect(await hashSecret(token)).toBe(nodeHash(token));
    expect(nodePrefix(token)).toBe(secretPrefix(token));
  });

  it("hashes to the known SHA-256 of a fixed input", async () => {
    expect(await hashSecret("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });

  it("makes unique, url-safe secrets of the same shape on both sides", () => {
    const a = newSecret("ingest");
    const b = newSecret("ingest");
    expect(a).not.toBe(b);
    expect(a).toMatch(/^emk_[A-Za-z0-9_-]{43}$/);
    expect(newAdminToken()).toMatch(/^emt_[A-Za-z0-9_-]{43}$/);
  });
});
