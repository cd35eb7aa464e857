import { Aws, Stack } from "aws-cdk-lib";
import { type IGrantable, PolicyStatement } from "aws-cdk-lib/aws-iam";
import type { Construct } from "constructs";

/**
 * A SecureString parameter the operator creates by hand (CloudFormation cannot create SecureStrings),
 * known to the stack by name only: its value never enters the template.
 */
export class SecureParameter {
  readonly arn: string;

  constructor(
    scope: Construct,
    /** As given to SSM: `/licence-desk/billmgr-credentials`. */
    readonly name: string,
    /** The customer-managed key that encrypts it; undefined for the AWS-managed `aws/ssm` key. */
    readonly keyArn: string | undefined,
  ) {
    this.arn = Stack.of(scope).formatArn({
      service: "ssm",
      resource: "parameter",
      resourceName: name.replace(/^\//, ""),
    });
  }

  /**
   * `ssm:GetParameter` on this one parameter (what Powertools' `SSMProvider.get` calls, with decryption),
   * and `kms:Decrypt` on its customer-managed key, only through SSM in this region.
   *
   * With the AWS-managed key `aws/ssm` no KMS statement is added: that key's own policy already lets
   * every principal of the account decrypt through SSM (kms:CallerAccount + kms:ViaService), so a grant
   * would add nothing but a `key/*` resource. Who may read the value is then decided by the
   * `ssm:GetParameter` statement alone. Use a customer-managed key to make decryption a separate control.
   */
  grantRead(grantee: IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({ actions: ["ssm:GetParameter"], resources: [this.arn] }),
    );
    if (this.keyArn) {
      grantee.grantPrincipal.addToPrincipalPolicy(
        new PolicyStatement({
          actions: ["kms:Decrypt"],
          resources: [this.keyArn],
          conditions: { StringEquals: { "kms:ViaService": `ssm.${Aws.REGION}.amazonaws.com` } },
        }),
      );
    }
  }
}
