// Swagger UI on the generated contract: every route, its schemas and errors, and « Try it
// out » with a bearer token (Authorize). Nothing is fetched from outside the server: no
// validator badge.
document.addEventListener("securitypolicyviolation", (e) => {
  (window.cspViolations ||= []).push(`${e.violatedDirective} ${e.blockedURI}`);
});
window.ui = SwaggerUIBundle({
  url: "/api/v1/openapi.json",
  dom_id: "#api",
  deepLinking: true,
  persistAuthorization: true,
  tryItOutEnabled: false,
  filter: true,
  validatorUrl: null,
});
