// Renders /api/v1/openapi.json as a readable list: no framework, no CDN.
"use strict";

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
  children.flat().forEach((c) => node.append(c instanceof Node ? c : document.createTextNode(String(c))));
  return node;
}

function schemaName(schema) {
  if (!schema) return "";
  if (schema.$ref) return schema.$ref.split("/").pop();
  if (schema.type === "array") return schemaName(schema.items) + "[]";
  return schema.type || "objet";
}

function render(spec) {
  const main = document.getElementById("api");
  main.replaceChildren();
  const byTag = new Map();
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const method of ["get", "post", "put", "delete"]) {
      const op = item[method];
      if (!op) continue;
      const tag = (op.tags || ["autres"])[0];
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push({ path, method, op });
    }
  }
  for (const [tag, ops] of byTag) {
    const section = el("section", { class: "tag" }, el("h2", {}, tag));
    for (const { path, method, op } of ops) {
      const params = (op.parameters || []).map((p) =>
        el("li", {}, el("code", {}, p.name), ` (${p.in}${p.required ? ", requis" : ""}) `, p.description || ""));
      const body = op.requestBody && op.requestBody.content && op.requestBody.content["application/json"];
      const responses = Object.entries(op.responses || {}).map(([status, r]) => {
        const content = r.content || {};
        const type = Object.keys(content)[0];
        const schema = type ? schemaName(content[type].schema) : "";
        return el("li", {}, el("strong", {}, status), " ", r.description || "", schema ? ` — ${schema}` : "");
      });
      section.append(el("details", { class: "op", "data-search": `${method} ${path} ${tag}`.toLowerCase() },
        el("summary", {}, el("span", { class: `verb ${method}` }, method.toUpperCase()), " ", el("code", {}, path),
          op.description ? ` — ${op.description.split("\n")[0]}` : ""),
        params.length ? [el("h3", {}, "Paramètres"), el("ul", {}, params)] : [],
        body ? [el("h3", {}, "Corps"), el("p", {}, schemaName(body.schema))] : [],
        el("h3", {}, "Réponses"), el("ul", {}, responses)));
    }
    main.append(section);
  }
}

fetch("/api/v1/openapi.json")
  .then((r) => r.json())
  .then((spec) => {
    render(spec);
    document.getElementById("filter").addEventListener("input", (e) => {
      const q = e.target.value.toLowerCase();
      document.querySelectorAll(".op").forEach((op) => {
        op.hidden = q !== "" && !op.dataset.search.includes(q);
      });
    });
  })
  .catch((e) => {
    document.getElementById("api").textContent = "Impossible de charger le contrat : " + e;
  });
