"""Pieces shared by every pipeline construct.

This package's ``__init__`` deliberately imports nothing from ``aws_cdk``:
:mod:`pipeline_constructs.core.private.node` must be able to select the Node.js
binary before the jsii kernel starts.
"""
