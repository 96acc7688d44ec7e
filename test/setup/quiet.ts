/*
 * The AWS SDK warns once per module registry (so once per test file) that it will soon need Node >= 22. The
 * tests run on Node 20 on purpose (the lowest Node we support); the handlers run on Lambda's Node 22+. The
 * SDK's own switch turns that one warning off for the tests; every other warning still shows.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
