"""Parse rendered files back the way their real consumers do, and validate whole outputs.

``formats.encode`` promises that a value reads back unchanged; these readers are the other half
of that promise, so each one follows its consumer's own source rather than a looser idea of the
format: ``java.util.Properties.load`` (JDK 17 ``LineReader``/``loadConvert``), aapt2's
``ResourceParser::FlattenXmlSubtree`` and ``ResourceUtils::StringBuilder``, Xcode's
``MacroConfigFileParser`` and ``MacroExpressionParser`` (swiftlang/swift-build) and
react-native-config's ``ReadDotEnv.rb`` / ``dotenv.gradle`` / ``generate-header.js``.
"""

from nudge_build.readers._common import InvalidOutput
from nudge_build.readers.data import validate_json, validate_toml
from nudge_build.readers.dotenv import read_env, validate_env
from nudge_build.readers.markup import (
    java_format_is_safe,
    unescape_android_string,
    validate_android_strings,
    validate_plist,
    validate_xml,
)
from nudge_build.readers.properties import read_properties, validate_properties
from nudge_build.readers.source import validate_source
from nudge_build.readers.xcconfig import read_xcconfig, validate_xcconfig

__all__ = [
    "InvalidOutput",
    "java_format_is_safe",
    "read_env",
    "read_properties",
    "read_xcconfig",
    "unescape_android_string",
    "validate_android_strings",
    "validate_env",
    "validate_json",
    "validate_plist",
    "validate_properties",
    "validate_source",
    "validate_toml",
    "validate_xcconfig",
    "validate_xml",
]
