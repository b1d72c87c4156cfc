import { describe, expect, it } from "vitest";
import { nodeVersionProblem } from "../../../scripts/check-node.mjs";

describe("nodeVersionProblem", () => {
  it("refuses Node older than 22.12 in one line that says what to do", () => {
    for (const version of ["20.20.2", "22.11.0", "18.0.0"]) {
      const problem = nodeVersionProblem(version);
      expect(problem).toContain(`this is v${version}`);
      expect(problem).toContain("npm install");
      expect(problem?.includes("\n")).toBe(false);
    }
  });

  it("accepts 22.12 and newer", () => {
    for (const version of ["22.12.0", "22.23.3", "24.1.0", "26.10.0"]) expect(nodeVersionProblem(version)).toBeNull();
  });
});
