//go:build cgo

package gpu

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"unsafe"

	vk "github.com/vulkan-go/vulkan"

	"strata/shaders"
)

// pushBytes is the push-constant space every pipeline declares.
const pushBytes = 64

// A pipeline is a compute shader with its descriptor set layout: one
// storage buffer per binding, in order.
type pipeline struct {
	name      string
	bindings  int
	setLayout vk.DescriptorSetLayout
	layout    vk.PipelineLayout
	pipe      vk.Pipeline
	module    vk.ShaderModule
}

// pipelineKey names a compiled pipeline: a shader and its workgroup size
// (specialization constant 0; 0 where the shader fixes its own).
type pipelineKey struct {
	name  string
	local uint32
}

// pipeline returns the compiled pipeline of a shader, creating it on
// first use through the pipeline cache. local, when not 0, is the
// workgroup size of a shader that declares it as specialization constant 0.
func (g *Backend) pipeline(name string, bindings int, local uint32) (*pipeline, error) {
	key := pipelineKey{name, local}
	if p, ok := g.pipelines[key]; ok {
		return p, nil
	}
	if bindings < 1 || bindings > maxBindings {
		return nil, fmt.Errorf("gpu: shader %s has %d bindings, want 1 to %d", name, bindings, maxBindings)
	}
	code, err := shaders.SPIRV(name)
	if err != nil {
		return nil, err
	}
	if len(code) == 0 || len(code)%4 != 0 {
		return nil, fmt.Errorf("gpu: shader %s: %d bytes is not SPIR-V", name, len(code))
	}
	words := make([]uint32, len(code)/4)
	for i := range words {
		words[i] = binary.LittleEndian.Uint32(code[4*i:])
	}
	p := &pipeline{name: name, bindings: bindings}
	module, r := g.vkc.newShaderModule(g.dev, words)
	if err := vkErr("vkCreateShaderModule "+name, r); err != nil {
		return nil, err
	}
	p.module = module
	if p.setLayout, r = g.vkc.newSetLayout(g.dev, bindings); r != vk.Success {
		g.destroyPipeline(p)
		return nil, vkErr("vkCreateDescriptorSetLayout", r)
	}
	if p.layout, r = g.vkc.newPipelineLayout(g.dev, p.setLayout, pushBytes); r != vk.Success {
		g.destroyPipeline(p)
		return nil, vkErr("vkCreatePipelineLayout", r)
	}
	if p.pipe, r = g.vkc.newPipeline(g.dev, g.pipelineCache, p.module, p.layout, local); r != vk.Success {
		g.destroyPipeline(p)
		return nil, vkErr("vkCreateComputePipelines "+name, r)
	}
	g.pipelines[key] = p
	return p, nil
}

func (g *Backend) destroyPipeline(p *pipeline) {
	vk.DestroyPipeline(g.dev, p.pipe, nil)
	vk.DestroyPipelineLayout(g.dev, p.layout, nil)
	vk.DestroyDescriptorSetLayout(g.dev, p.setLayout, nil)
	vk.DestroyShaderModule(g.dev, p.module, nil)
}

// cacheFile is where compiled pipelines are kept between runs: one file
// per device and driver, under the user's cache directory.
func cacheFile(opt string, info *DeviceInfo, uuid [16]byte) string {
	switch opt {
	case "-":
		return ""
	case "":
		dir, err := os.UserCacheDir()
		if err != nil {
			return ""
		}
		return filepath.Join(dir, "strata", fmt.Sprintf("pipelines-%04x-%04x-%x.bin", info.VendorID, info.DeviceID, uuid))
	}
	return opt
}

// openPipelineCache creates the pipeline cache from the file's data, when
// there is any; a stale or foreign file is ignored by the driver.
func (g *Backend) openPipelineCache() error {
	var data []byte
	if g.cachePath != "" {
		data, _ = os.ReadFile(g.cachePath)
	}
	cache, r := g.vkc.newPipelineCache(g.dev, data)
	if r != vk.Success && len(data) > 0 {
		data = nil // the driver refused it: start an empty cache
		cache, r = g.vkc.newPipelineCache(g.dev, nil)
	}
	g.pipelineCache = cache
	g.cacheLoaded = len(data)
	return vkErr("vkCreatePipelineCache", r)
}

// savePipelineCache writes the cache's data to its file.
func (g *Backend) savePipelineCache() error {
	if g.cachePath == "" || g.pipelineCache == nil {
		return nil
	}
	var size uint
	if err := vkErr("vkGetPipelineCacheData", vk.GetPipelineCacheData(g.dev, g.pipelineCache, &size, nil)); err != nil || size == 0 {
		return err
	}
	data := make([]byte, size)
	if err := vkErr("vkGetPipelineCacheData", vk.GetPipelineCacheData(g.dev, g.pipelineCache, &size, unsafe.Pointer(&data[0]))); err != nil {
		return err
	}
	if int(size) == g.cacheLoaded {
		return nil // nothing new
	}
	if err := os.MkdirAll(filepath.Dir(g.cachePath), 0o755); err != nil {
		return err
	}
	tmp := g.cachePath + ".tmp"
	if err := os.WriteFile(tmp, data[:size], 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, g.cachePath)
}
