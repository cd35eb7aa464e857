/** What the AWS SDK needs to talk to a local DynamoDB engine: a region and dummy credentials. */
export const LOCAL_AWS_ENV = {
  AWS_REGION: "local",
  AWS_ACCESS_KEY_ID: "local",
  AWS_SECRET_ACCESS_KEY: "local",
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
} as const;
