/* Forces a type into the object's BTF so that TypeScript decoders can be generated for it even when
 * no map declares it (ring buffer records). The variable itself is never used. */
#ifndef __FLOWSCOPE_BTF_EXPORT_BPF_H
#define __FLOWSCOPE_BTF_EXPORT_BPF_H

#define FLOWSCOPE_EXPORT_TYPE(type, name) const type *__flowscope_export_##name __attribute__((unused))

#endif
