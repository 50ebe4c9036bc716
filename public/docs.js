// The API reference at /docs: Swagger UI (its bundle is served from /static, never a CDN) renders
// the OpenAPI document named by the container's data-spec. No validator badge: it would send the
// document to validator.swagger.io, and the page's CSP allows no other origin anyway.
(() => {
  const root = document.getElementById('api-reference');
  if (!root || typeof window.SwaggerUIBundle !== 'function') return;
  window.SwaggerUIBundle({
    url: root.dataset.spec,
    domNode: root,
    deepLinking: true,
    validatorUrl: null,
    docExpansion: 'list',
    defaultModelsExpandDepth: 0,
  });
})();
