/**
 * Every link in README.md and docs/ that points into the repository resolves: the file exists,
 * and an anchor names a heading of that file (GitHub's anchor for it, github-slugger).
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import MarkdownIt from "markdown-it";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(__dirname, "../..");
const DOCS = [
  "README.md",
  ...readdirSync(path.join(ROOT, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/${f}`),
];
const markdown = new MarkdownIt({ html: true });

interface Parsed {
  links: string[];
  anchors: Set<string>;
}

type Token = MarkdownIt.Token;

async function parse(file: string): Promise<Parsed> {
  const { default: GithubSlugger } = await import("github-slugger");
  const slugger = new GithubSlugger();
  const tokens = markdown.parse(readFileSync(path.join(ROOT, file), "utf8"), {});
  const links: string[] = [];
  const anchors = new Set<string>();
  const visit = (list: Token[]) => {
    list.forEach((token, i) => {
      if (token.type === "link_open") links.push(String(token.attrGet("href") ?? ""));
      if (token.type === "heading_open") anchors.add(slugger.slug(list[i + 1].children?.map((c) => c.content).join("") ?? ""));
      if (token.children) visit(token.children);
    });
  };
  visit(tokens);
  return { links, anchors };
}

const local = (href: string) => !/^[a-z][a-z0-9+.-]*:/i.test(href);

describe("links in README.md and docs/", () => {
  it.each(DOCS)("%s: every relative link and anchor resolves", async (file) => {
    const broken: string[] = [];
    for (const href of (await parse(file)).links.filter(local)) {
      const [target, anchor] = href.split("#") as [string, string | undefined];
      const targetFile = target ? path.normalize(path.join(path.dirname(file), decodeURIComponent(target))) : file;
      if (!existsSync(path.join(ROOT, targetFile))) {
        broken.push(`${href}: no file ${targetFile}`);
        continue;
      }
      if (anchor === undefined || statSync(path.join(ROOT, targetFile)).isDirectory()) continue;
      if (!targetFile.endsWith(".md")) continue;
      if (!(await parse(targetFile)).anchors.has(decodeURIComponent(anchor)))
        broken.push(`${href}: no heading #${anchor} in ${targetFile}`);
    }
    expect(broken).toEqual([]);
  });
});
