import { App, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { LicenceDeskStack } from "./stack.ts";

/**
 * `npx cdk synth` / `npx cdk deploy` (cdk.json runs this with tsx). cdk-nag's AwsSolutions pack runs as a
 * validation plugin: any finding not acknowledged (infra/acknowledgements.ts) fails the synth.
 */
const app = new App();
const stackName = app.node.tryGetContext("stackName") ?? "LicenceDesk";
new LicenceDeskStack(app, stackName, {
  description: "ISPmanager licence desk: API, register, nightly watcher, alerts",
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
