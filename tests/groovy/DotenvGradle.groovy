// Runs react-native-config's own android/dotenv.gradle, unmodified, outside Gradle, for
// tests/test_env_readers.py: the few Gradle objects it touches are stand-ins, everything it
// decides (which file, which lines, which values, the buildConfigField/resValue it declares)
// is its own code.
//
// groovy DotenvGradle.groovy OUT DOTENV_GRADLE CASE...
// CASE is ROOT_DIR|TASK|ENVFILE_PROPERTY|FLAVOR=FILE,FLAVOR=FILE (empty fields allowed); ENVFILE
// may also come from the environment, as in a real build. OUT gets, per case, "CASE n", then
// one "KIND<TAB>name<TAB>value" line per call (KIND: read, field, res), names and values with
// everything outside printable ASCII, '\' and '"' written as backslash-u escapes (UTF-16 units).

import org.codehaus.groovy.control.CompilerConfiguration
import org.codehaus.groovy.control.customizers.ImportCustomizer

class StandInProject {
    File rootDir
    Map<String, Object> properties = [:]
    Map<String, Object> ext

    StandInProject(File rootDir) {
        this.rootDir = rootDir
        this.ext = new StandInExt(properties)
    }

    boolean hasProperty(String name) { properties.containsKey(name) }

    def propertyMissing(String name) {
        if (!properties.containsKey(name)) throw new MissingPropertyException(name, StandInProject)
        properties[name]
    }
}

// project.ext: extra properties, readable on the project itself as Gradle makes them.
class StandInExt extends LinkedHashMap<String, Object> {
    Map<String, Object> target
    StandInExt(Map<String, Object> target) { this.target = target }
    void set(String name, Object value) { target[name] = value }
    Object get(Object name) { target[name] }
}

class AndroidDsl {
    List<List<String>> calls = []
    void defaultConfig(Closure body) {
        body.delegate = this
        body.resolveStrategy = Closure.DELEGATE_FIRST
        body()
    }
    void buildConfigField(String type, String name, String value) { calls << ['field', name, value] }
    void resValue(String type, String name, String value) { calls << ['res', name, value] }
}

String escape(String text) {
    StringBuilder out = new StringBuilder()
    for (char c : text.toCharArray()) {
        if (c >= (char) 0x20 && c <= (char) 0x7e && c != (char) '\\' && c != (char) '"') out.append(c)
        else out.append(String.format('\\u%04x', (int) c))
    }
    out.toString()
}

def out = new File(args[0])
def script = new File(args[1]).getText('UTF-8')
def imports = new ImportCustomizer()
imports.addImport('Gradle', 'java.lang.Object')  // only a declared type in dotenv.gradle
def compiler = new CompilerConfiguration()
compiler.addCompilationCustomizers(imports)
def lines = []
args.drop(2).eachWithIndex { spec, index ->
    def (root, task, envfile, mapping) = (spec + '|||').split('\\|', -1).toList()
    if (envfile) System.setProperty('ENVFILE', envfile) else System.clearProperty('ENVFILE')
    def project = new StandInProject(new File(root))
    if (mapping) {
        def files = [:]
        mapping.split(',').each { pair -> def (k, v) = pair.split('=', 2).toList(); files[k] = v }
        project.properties['envConfigFiles'] = files
    }
    def dsl = new AndroidDsl()
    def binding = new Binding()
    binding.setVariable('project', project)
    def startParameter = new Expando(getTaskNames: { task ? [task] : [] })
    binding.setVariable('getGradle', { -> new Expando(getStartParameter: { startParameter }) })
    binding.setVariable('android', { Closure body ->
        body.delegate = dsl
        body.resolveStrategy = Closure.DELEGATE_FIRST
        body()
    })
    new GroovyShell(binding, compiler).evaluate(script, 'dotenv.gradle')
    lines << "CASE ${index}"
    project.properties['env'].each { k, v -> lines << "read\t${escape(k)}\t${escape(v)}" }
    dsl.calls.each { call -> lines << "${call[0]}\t${escape(call[1])}\t${escape(call[2])}" }
}
out.setText(lines.join('\n') + '\n', 'UTF-8')
