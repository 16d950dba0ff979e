// Swagger UI for this gateway: the document is the gateway's own /openapi.json, and no request
// leaves this origin (validatorUrl off: the default badge would call validator.swagger.io).
window.onload = () => {
  window.ui = SwaggerUIBundle({
    url: new URL('../openapi.json', window.location.href).href,
    dom_id: '#swagger-ui',
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: 'BaseLayout',
    validatorUrl: null,
    tryItOutEnabled: true,
    displayRequestDuration: true,
  });
};
