// The same one line as expo 57.0.33's config-plugins.js.
module.exports = require('@expo/config-plugins');
