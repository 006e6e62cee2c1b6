"""Lambda handler code shipped as assets: boto3 and the standard library only, no aws_cdk."""
